package blockstore_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	boxobs "github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/datastore/dshelp"
	blocks "github.com/ipfs/go-block-format"

	"github.com/tack-ipfs/tack/blockstore"
	"github.com/tack-ipfs/tack/blockstore/blockstoretest"
)

// MustOpenLocal opens a Local blockstore in dir, closed by tb.Cleanup.
func MustOpenLocal(tb testing.TB, dir string) *blockstore.Local {
	tb.Helper()
	l, err := blockstore.OpenLocal(dir)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := l.Close(); err != nil {
			tb.Error(err)
		}
	})
	return l
}

func TestLocal(t *testing.T) {
	blockstoretest.Run(t, func(t *testing.T) boxobs.Blockstore {
		return MustOpenLocal(t, filepath.Join(t.TempDir(), "blocks"))
	})
}

func TestLocalReopen(t *testing.T) {
	base := t.TempDir()
	blockstoretest.RunReopen(t, func(t *testing.T, name string) boxobs.Blockstore {
		return MustOpenLocal(t, filepath.Join(base, name))
	})
}

func TestLocalLayout(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "blocks")
	l := MustOpenLocal(t, dir)
	small := blockstoretest.RandomBlocks(t, 1, blockstore.SmallBlock)[0]
	large := blockstoretest.RandomBlocks(t, 1, blockstore.SmallBlock+1)[0]
	if err := l.PutMany(ctx, []blocks.Block{small, large}); err != nil {
		t.Fatal(err)
	}
	shard, err := os.ReadFile(filepath.Join(dir, "flatfs", "SHARDING"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(shard), "/repo/flatfs/shard/v1/next-to-last/2\n"; got != want {
		t.Errorf("SHARDING: got %q, want %q", got, want)
	}
	// Large blocks in Kubo's layout: no /blocks prefix, base32 multihash
	// keys. Small ones in Pebble.
	matches, err := filepath.Glob(filepath.Join(dir, "flatfs", "*", "*.data"))
	if err != nil {
		t.Fatal(err)
	}
	if len(matches) != 1 || filepath.Base(matches[0]) != dshelp.MultihashToDsKey(large.Cid().Hash()).String()[1:]+".data" {
		t.Errorf("got block files %v, want one, for %s", matches, large.Cid())
	}
	if ents, err := os.ReadDir(filepath.Join(dir, "pebble")); err != nil || len(ents) == 0 {
		t.Errorf("no Pebble store for small blocks: %v", err)
	}
	for _, b := range []blocks.Block{small, large} {
		got, err := l.Get(ctx, b.Cid())
		if err != nil || !bytes.Equal(got.RawData(), b.RawData()) {
			t.Errorf("Get(%d-byte block): %v", len(b.RawData()), err)
		}
		if n, err := l.GetSize(ctx, b.Cid()); n != len(b.RawData()) || err != nil {
			t.Errorf("GetSize(%d-byte block) = %d, %v", len(b.RawData()), n, err)
		}
	}
	du, err := l.DiskUsage(ctx)
	if err != nil || du < uint64(len(large.RawData())) {
		t.Errorf("DiskUsage: got %d, %v", du, err)
	}
}

func TestLocalSync(t *testing.T) {
	ctx := context.Background()
	l := MustOpenLocal(t, filepath.Join(t.TempDir(), "blocks"))
	if err := l.PutMany(ctx, blockstoretest.RandomBlocks(t, 50, 1000)); err != nil {
		t.Fatal(err)
	}
	// Many concurrent callers share flushes and all succeed.
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- l.Sync(ctx)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.Sync(cctx); err != nil && err != context.Canceled {
		t.Errorf("Sync with a cancelled context: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := l.Sync(ctx); err == nil {
		t.Error("Sync after Close succeeded")
	}
}

func BenchmarkLocalPut(b *testing.B) {
	for _, bc := range []struct {
		name string
		size int
	}{{"1KiB", 1 << 10}, {"256KiB", 256 << 10}} {
		b.Run(bc.name, func(b *testing.B) {
			blockstoretest.BenchmarkPut(b, MustOpenLocal(b, filepath.Join(b.TempDir(), "blocks")), bc.size)
		})
	}
}

func BenchmarkLocalSync(b *testing.B) {
	l := MustOpenLocal(b, filepath.Join(b.TempDir(), "blocks"))
	bl := blockstoretest.RandomBlocks(b, 64, 1<<10)
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		for _, blk := range bl {
			l.DeleteBlock(ctx, blk.Cid())
		}
		if err := l.PutMany(ctx, bl); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := l.Sync(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLocalPutMany(b *testing.B) {
	blockstoretest.BenchmarkPutMany(b, MustOpenLocal(b, filepath.Join(b.TempDir(), "blocks")), 1<<10, 64)
}

func BenchmarkLocalPutParallel(b *testing.B) {
	for _, bc := range []struct {
		name string
		size int
	}{{"1KiB", 1 << 10}, {"256KiB", 256 << 10}} {
		b.Run(bc.name, func(b *testing.B) {
			blockstoretest.BenchmarkPutParallel(b, MustOpenLocal(b, filepath.Join(b.TempDir(), "blocks")), bc.size)
		})
	}
}
