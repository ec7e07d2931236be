package main

import (
	"context"
	"sync"
	"testing"
	"time"

	pinclient "github.com/ipfs/boxo/pinning/remote/client"
	"github.com/ipfs/go-cid"

	"github.com/tack-ipfs/tack/internal/testpeer"
)

// BenchmarkConcurrentDAGs: a tack process pins 8 DAGs of 4 MiB in 1 KiB
// blocks from one origin, all posted at once, as when a user pins several
// folders of small files from their own node. Their walks share the one
// provider, whose bitswap server queues 1,024 wants of a peer and leaves
// the rest unanswered. It reports blocks/s from the first post to the last
// pin.
//
//	go test ./cmd/tack -run '^$' -bench ConcurrentDAGs -benchtime 3x
func BenchmarkConcurrentDAGs(b *testing.B) {
	bin := buildBinary(b)
	peer := testpeer.New(b)
	ctx := context.Background()
	var secs, blocks float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		roots, n := concurrentDAGs(b, peer)
		blocks += float64(n)
		proc, c := startBenchTack(b, bin)
		origins := pinclient.PinOpts.WithOrigins(Origins(b, peer)...)
		settle()
		b.StartTimer()

		start := time.Now()
		var ids []string
		for _, root := range roots {
			ps, err := c.Add(ctx, root, origins)
			if err != nil {
				b.Fatal(err)
			}
			ids = append(ids, ps.GetRequestId())
		}
		for _, id := range ids {
			waitPinned(b, c, id, 10*time.Millisecond)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		b.Logf("%d DAGs of %d blocks in all: %s", len(roots), n, elapsed.Round(time.Millisecond))
		secs += elapsed.Seconds()
		proc.Process.Kill()
		proc.Wait()
	}
	b.ReportMetric(blocks/secs, "blocks/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkConcurrentDAGsKubo is the baseline of BenchmarkConcurrentDAGs:
// a fresh Kubo, connected to the same kind of peer, pins the same kind of
// 8 DAGs, 8 `ipfs pin add` at once.
//
//	TACK_KUBO=/path/to/ipfs go test ./cmd/tack -run '^$' -bench ConcurrentDAGs -benchtime 3x
func BenchmarkConcurrentDAGsKubo(b *testing.B) {
	bin := kuboBin(b)
	peer := testpeer.New(b)
	var secs, blocks float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		roots, n := concurrentDAGs(b, peer)
		blocks += float64(n)
		kubo := startKuboFor(b, bin, peer)
		b.StartTimer()
		start := time.Now()
		var wg sync.WaitGroup
		for _, root := range roots {
			wg.Go(func() { kubo.RPC(b, "/api/v0/pin/add?arg="+root.String()) })
		}
		wg.Wait()
		secs += time.Since(start).Seconds()
		b.StopTimer()
		kubo.run("shutdown")
	}
	b.ReportMetric(blocks/secs, "blocks/s")
	b.ReportMetric(0, "ns/op")
}

// concurrentDAGs adds the 8 DAGs of 4 MiB in 1 KiB blocks of one round to
// peer, and returns their roots and how many blocks they have in all.
func concurrentDAGs(b *testing.B, peer *testpeer.Peer) ([]cid.Cid, int) {
	b.Helper()
	roots := make([]cid.Cid, 8)
	n := 0
	for i := range roots {
		roots[i] = peer.AddFile(b, 4<<20, 1<<10, 1)
		all, err := testpeer.AllCIDs(context.Background(), peer.Blockstore(), roots[i])
		if err != nil {
			b.Fatal(err)
		}
		n += len(all)
	}
	return roots, n
}
