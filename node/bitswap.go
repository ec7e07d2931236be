package node

import (
	"github.com/ipfs/boxo/bitswap"
	"github.com/ipfs/boxo/bitswap/client"
)

// bitswapOptions are tack's bitswap settings, for a server that fetches
// whole DAGs and serves them back.
func bitswapOptions() []bitswap.Option {
	// When a peer takes long to answer a want-block, bitswap pretends it
	// answered DONT_HAVE, and a session with no other peer to ask then
	// waits for its next rebroadcast, tens of seconds later. By default
	// "long" is twice the measured latency, at least 50 ms, which a peer
	// that is busy sending us hundreds of blocks exceeds on a fast link:
	// fetches from one origin stalled for 40 s out of 45. A pinning
	// service keeps hundreds of blocks in flight on purpose, so wait for
	// an answer as long as bitswap does for a peer whose latency is not
	// known yet.
	dh := client.DefaultDontHaveTimeoutConfig()
	dh.MinTimeout = dh.DontHaveTimeout
	return []bitswap.Option{
		bitswap.WithClientOption(client.WithDontHaveTimeoutConfig(dh)),
		// The walker checks and stores blocks itself; bitswap's count of
		// duplicate blocks would cost a blockstore lookup per block.
		bitswap.WithoutDuplicatedBlockStats(),
	}
}
