package main

import (
	"context"
	"net/url"
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
	const dags, size = 8, 4 << 20
	bin := buildBinary(b)
	peer := testpeer.New(b)
	ctx := context.Background()
	var secs, blocks float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		roots := make([]cid.Cid, dags)
		for j := range roots {
			root := peer.AddFile(b, size, 1<<10, 1)
			all, err := testpeer.AllCIDs(ctx, peer.Blockstore(), root)
			if err != nil {
				b.Fatal(err)
			}
			blocks += float64(len(all))
			roots[j] = root
		}
		dir, addr := tempData(b), freeAddr(b)
		proc := startProcess(b, bin, dir, addr, append([]string{"--rate-limit", "off"}, benchFlags()...)...)
		c := pinclient.NewClient("http://"+addr, readToken(b, dir))
		waitUp(b, c)
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
		b.Logf("%d DAGs of %d KiB in 1 KiB blocks: %s", dags, size>>10, elapsed.Round(time.Millisecond))
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
	const dags, size = 8, 4 << 20
	bin := kuboBin(b)
	peer := testpeer.New(b)
	ctx := context.Background()
	var secs, blocks float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		roots := make([]cid.Cid, dags)
		for j := range roots {
			roots[j] = peer.AddFile(b, size, 1<<10, 1)
			all, err := testpeer.AllCIDs(ctx, peer.Blockstore(), roots[j])
			if err != nil {
				b.Fatal(err)
			}
			blocks += float64(len(all))
		}
		kubo := startKubo(b, bin)
		for _, a := range peer.Addrs() {
			kubo.RPC(b, "/api/v0/swarm/connect?arg="+url.QueryEscape(a))
		}
		settle()
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
