package blockstore_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	boxobs "github.com/ipfs/boxo/blockstore"

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
	dir := filepath.Join(t.TempDir(), "blocks")
	l := MustOpenLocal(t, dir)
	b := blockstoretest.RandomBlocks(t, 1, 10)[0]
	if err := l.Put(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	shard, err := os.ReadFile(filepath.Join(dir, "SHARDING"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(shard), "/repo/flatfs/shard/v1/next-to-last/2\n"; got != want {
		t.Errorf("SHARDING: got %q, want %q", got, want)
	}
	// Kubo's layout: no /blocks prefix, base32 multihash keys.
	matches, err := filepath.Glob(filepath.Join(dir, "*", "*.data"))
	if err != nil {
		t.Fatal(err)
	}
	if len(matches) != 1 {
		t.Errorf("got block files %v, want one", matches)
	}
	du, err := l.DiskUsage(context.Background())
	if err != nil || du == 0 {
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
