package node_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/ipfs/boxo/bitswap"
	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"

	"github.com/tack-ipfs/tack/internal/testpeer"
	"github.com/tack-ipfs/tack/node"
)

// fetchWindow walks the DAG under root with a session of n, keeping window
// blocks in flight in GetBlocks calls of up to 32, storing into bs.
func fetchWindow(tb testing.TB, ctx context.Context, n *node.Node, bs blockstore.Blockstore, root cid.Cid, window int) int {
	tb.Helper()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sess := n.NewSession(ctx)
	results := make(chan blocks.Block, window)
	seen := map[cid.Cid]bool{root: true}
	todo := []cid.Cid{root}
	inflight, count := 0, 0
	for len(todo) > 0 || inflight > 0 {
		for len(todo) > 0 && inflight < window {
			k := min(32, len(todo), window-inflight)
			chunk := append([]cid.Cid(nil), todo[:k]...)
			todo = todo[k:]
			inflight += k
			go func() {
				ch, err := sess.GetBlocks(ctx, chunk)
				if err != nil {
					return
				}
				for b := range ch {
					results <- b
				}
			}()
		}
		select {
		case b := <-results:
			inflight--
			count++
			todo = append(todo, storeBlock(tb, ctx, bs, b, seen)...)
		case <-ctx.Done():
			tb.Fatal(ctx.Err())
		}
	}
	return count
}

var shapes = []struct {
	name        string
	size, chunk int
}{
	{"64MiB-256KiB", 64 << 20, 256 << 10},
	{"8MiB-1KiB", 8 << 20, 1 << 10},
}

// BenchmarkFetch: the node fetches a file from a peer with Kubo's default
// bitswap settings, at several windows of blocks in flight.
func BenchmarkFetch(b *testing.B) {
	for _, sh := range shapes {
		src := testpeer.New(b)
		root := src.AddFile(b, sh.size, sh.chunk, 1)
		for _, window := range []int{32, 128, 256, 512, 1024, 2048} {
			b.Run(fmt.Sprintf("%s/window=%d", sh.name, window), func(b *testing.B) {
				b.SetBytes(int64(sh.size))
				var n int
				for b.Loop() {
					bs := blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()), blockstore.NoPrefix())
					nd := MustNew(b, node.Config{Blockstore: bs, AllowPrivateOrigins: true})
					nd.Connect(context.Background(), src.Addrs())
					n = fetchWindow(b, context.Background(), nd, bs, root, window)
				}
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "blocks/s")
			})
		}
	}
}

// BenchmarkServe: a peer fetches a file from the node (128 blocks in
// flight), with the node's bitswap settings and with variations.
func BenchmarkServe(b *testing.B) {
	variants := []struct {
		name string
		opts []bitswap.Option
	}{
		{"tack", nil},
		{"boxo-defaults", []bitswap.Option{
			bitswap.MaxOutstandingBytesPerPeer(1 << 20),
			bitswap.WithTargetMessageSize(16 << 10),
			bitswap.EngineTaskWorkerCount(8),
			bitswap.TaskWorkerCount(8),
		}},
	}
	for _, sh := range shapes {
		for _, v := range variants {
			b.Run(sh.name+"/"+v.name, func(b *testing.B) {
				p := testpeer.New(b)
				root := p.AddFile(b, sh.size, sh.chunk, 1)
				nd := MustNew(b, node.Config{Blockstore: p.Blockstore(), Bitswap: v.opts})
				b.SetBytes(int64(sh.size))
				var n int
				for b.Loop() {
					q := testpeer.New(b)
					var err error
					n, err = q.FetchDAG(context.Background(), root, nd.Delegates())
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "blocks/s")
			})
		}
	}
}
