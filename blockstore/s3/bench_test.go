package s3_test

import (
	"context"
	"path/filepath"
	"testing"

	blocks "github.com/ipfs/go-block-format"

	"github.com/tack-ipfs/tack/blockstore"
	"github.com/tack-ipfs/tack/blockstore/blockstoretest"
	"github.com/tack-ipfs/tack/sqlite/sqlitetest"
)

// stores returns the stores the benchmarks compare: S3 without and with
// a cache, and the local blockstore as the baseline.
func stores(e *env) []struct {
	name string
	open func(b *testing.B) blockstore.Store
} {
	return []struct {
		name string
		open func(b *testing.B) blockstore.Store
	}{
		{"S3", func(b *testing.B) blockstore.Store {
			return MustOpen(b, e.options(newPrefix(), sqlitetest.MustOpen(b)))
		}},
		{"S3Cache", func(b *testing.B) blockstore.Store {
			o := e.options(newPrefix(), sqlitetest.MustOpen(b))
			o.Cache = MustCache(b, 1<<30)
			return MustOpen(b, o)
		}},
		{"Local", func(b *testing.B) blockstore.Store {
			l, err := blockstore.OpenLocal(filepath.Join(b.TempDir(), "blocks"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { l.Close() })
			return l
		}},
	}
}

// putAndSync puts bl one by one, then syncs: what a pin of them costs.
func putAndSync(b *testing.B, bs blockstore.Store, bl []blocks.Block) {
	ctx := context.Background()
	for _, blk := range bl {
		if err := bs.Put(ctx, blk); err != nil {
			b.Fatal(err)
		}
	}
	if err := bs.Sync(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSmallBlocks writes b.N distinct 1 KiB blocks, then syncs.
func BenchmarkSmallBlocks(b *testing.B) {
	e := newEnv(b)
	for _, st := range stores(e) {
		b.Run(st.name, func(b *testing.B) {
			bs := st.open(b)
			bl := blockstoretest.RandomBlocks(b, b.N, 1<<10)
			b.SetBytes(1 << 10)
			b.ResetTimer()
			putAndSync(b, bs, bl)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "blocks/s")
		})
	}
}

// BenchmarkLargeDAG writes 256 MiB in 256 KiB blocks, then syncs, once
// per iteration (new blocks each time).
func BenchmarkLargeDAG(b *testing.B) {
	e := newEnv(b)
	for _, st := range stores(e) {
		b.Run(st.name, func(b *testing.B) {
			bs := st.open(b)
			b.SetBytes(256 << 20)
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				bl := blockstoretest.RandomBlocks(b, 1024, 256<<10)
				b.StartTimer()
				putAndSync(b, bs, bl)
			}
		})
	}
}
