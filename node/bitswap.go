package node

import (
	"github.com/ipfs/boxo/bitswap"
)

// bitswapOptions are tack's bitswap settings, for a server that fetches
// whole DAGs and serves them back.
func bitswapOptions() []bitswap.Option {
	return []bitswap.Option{}
}
