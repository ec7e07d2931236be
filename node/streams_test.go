package node_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	bsnet "github.com/ipfs/boxo/bitswap/network/bsnet"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/tack-ipfs/tack/node"
)

// TestManyInboundBitswapStreams: a peer that serves a DAG fast sends each
// bitswap message on a new stream, and hundreds can be open at once. The
// node must accept them all: a stream it resets loses the blocks it
// carries, and the fetch waits for bitswap's next rebroadcast.
func TestManyInboundBitswapStreams(t *testing.T) {
	// Not parallel: 200 streams within a 10 s deadline.
	const streams = 200 // libp2p's default allows 64 per protocol and peer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n := MustNew(t, node.Config{})
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.ResourceManager(&network.NullResourceManager{}))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.Connect(ctx, peer.AddrInfo{ID: n.ID(), Addrs: n.Host().Addrs()}); err != nil {
		t.Fatal(err)
	}
	var open []network.Stream
	for i := range streams {
		s, err := h.NewStream(ctx, n.ID(), bsnet.ProtocolBitswap)
		if err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
		defer s.Reset()
		// An empty bitswap message: the node reads it and waits for
		// the next on the same stream.
		if _, err := s.Write([]byte{0}); err != nil {
			t.Fatal(err)
		}
		open = append(open, s)
	}
	// A refused stream is reset; an accepted one stays open and silent.
	deadline := time.Now().Add(2 * time.Second)
	reset := 0
	for _, s := range open {
		s.SetReadDeadline(deadline)
		_, err := s.Read(make([]byte, 1))
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			reset++
		}
	}
	if reset > 0 {
		t.Errorf("the node reset %d of %d inbound bitswap streams from one peer", reset, streams)
	}
}
