package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	nethttp "net/http"
	"testing"
	"time"

	"github.com/ipfs/boxo/blockservice"
	chunker "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	"github.com/ipfs/go-cid"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// importRandom imports size random bytes as a UnixFS file (CIDv1, raw
// leaves, chunks of chunk bytes) straight into tack's on-disk blockstore,
// syncs it, and returns the root and the leaves.
func importRandom(tb testing.TB, m *Main, size, chunk int) (cid.Cid, []cid.Cid) {
	tb.Helper()
	params := helpers.DagBuilderParams{
		Maxlinks:   helpers.DefaultLinksPerBlock,
		RawLeaves:  true,
		CidBuilder: merkledag.V1CidPrefix(),
		Dagserv:    merkledag.NewDAGService(blockservice.New(m.Blocks, nil)),
	}
	r := io.LimitReader(rand.NewChaCha8([32]byte{byte(size), byte(chunk)}), int64(size))
	db, err := params.New(chunker.NewSizeSplitter(r, int64(chunk)))
	if err != nil {
		tb.Fatal(err)
	}
	nd, err := balanced.Layout(db)
	if err != nil {
		tb.Fatal(err)
	}
	if err := m.Blocks.Sync(context.Background()); err != nil {
		tb.Fatal(err)
	}
	var leaves []cid.Cid
	ctx := context.Background()
	var walk func(c cid.Cid)
	walk = func(c cid.Cid) {
		if c.Prefix().Codec == cid.Raw {
			leaves = append(leaves, c)
			return
		}
		n, err := params.Dagserv.Get(ctx, c)
		if err != nil {
			tb.Fatal(err)
		}
		for _, l := range n.Links() {
			walk(l.Cid)
		}
	}
	walk(nd.Cid())
	return nd.Cid(), leaves
}

// BenchmarkGatewayCAR streams a 256 MiB pinned file as ?format=car from
// the on-disk blockstore (warm page cache) and reads the whole response.
// Client and server share the machine's cores.
//
//	go test ./cmd/tack -run '^$' -bench GatewayCAR -benchtime 5x
func BenchmarkGatewayCAR(b *testing.B) {
	for _, chunk := range []int{256 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("256MiB-in-%dKiB-chunks", chunk>>10), func(b *testing.B) {
			m := MustOpenMain(b, tempData(b))
			root, _ := importRandom(b, m, 256<<20, chunk)
			url := "http://" + m.HTTPAddr() + "/ipfs/" + root.String() + "?format=car"
			b.ResetTimer()
			var total int64
			for b.Loop() {
				resp, err := nethttp.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || n < 256<<20 {
					b.Fatalf("status %d, %d bytes, %v", resp.StatusCode, n, err)
				}
				total += n
			}
			b.SetBytes(total / int64(b.N))
		})
	}
}

// BenchmarkGatewayRaw sends raw block requests (?format=raw) for the
// leaves of a pinned file at a fixed rate from many connections with
// vegeta, and reports the rate achieved, the success ratio and the
// latency percentiles.
//
//	go test ./cmd/tack -run '^$' -bench GatewayRaw -benchtime 1x
func BenchmarkGatewayRaw(b *testing.B) {
	for _, tc := range []struct {
		name        string
		size, chunk int
		rate        int
	}{
		{"1KiB-blocks-2000rps", 8 << 20, 1 << 10, 2000},
		{"256KiB-blocks-2000rps", 256 << 20, 256 << 10, 2000},
	} {
		b.Run(tc.name, func(b *testing.B) {
			m := MustOpenMain(b, tempData(b))
			_, leaves := importRandom(b, m, tc.size, tc.chunk)
			base := "http://" + m.HTTPAddr() + "/ipfs/"
			i := 0
			targeter := func(t *vegeta.Target) error {
				t.Method = "GET"
				t.URL = base + leaves[i%len(leaves)].String() + "?format=raw"
				i++
				return nil
			}
			b.ResetTimer()
			for b.Loop() {
				atk := vegeta.NewAttacker(vegeta.Workers(64), vegeta.MaxWorkers(1000), vegeta.Connections(1000), vegeta.MaxBody(0), vegeta.KeepAlive(true))
				var mt vegeta.Metrics
				for res := range atk.Attack(targeter, vegeta.Rate{Freq: tc.rate, Per: time.Second}, 10*time.Second, tc.name) {
					mt.Add(res)
				}
				mt.Close()
				b.ReportMetric(mt.Throughput, "ok/s")
				b.ReportMetric(100*mt.Success, "%ok")
				b.ReportMetric(float64(mt.Latencies.P50.Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(mt.Latencies.P99.Microseconds())/1000, "p99-ms")
				b.ReportMetric(float64(mt.Latencies.Max.Microseconds())/1000, "max-ms")
				if mt.Success < 1 {
					b.Logf("status codes %v, errors %v", mt.StatusCodes, mt.Errors)
				}
			}
		})
	}
}
