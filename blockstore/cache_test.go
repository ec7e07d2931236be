package blockstore_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	blocks "github.com/ipfs/go-block-format"

	"github.com/tack-ipfs/tack/blockstore"
	"github.com/tack-ipfs/tack/blockstore/blockstoretest"
	"github.com/tack-ipfs/tack/internal/diskspace/diskspacetest"
)

// TestCacheSkipsFillsWhenShort: on a disk short of room the cache takes
// no block, and is not turned off for it; with room again, it fills.
func TestCacheSkipsFillsWhenShort(t *testing.T) {
	ctx := context.Background()
	mnt := diskspacetest.MustMount(t, 32<<20)
	c, err := blockstore.OpenCache(filepath.Join(mnt, "cache"), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	filler := filepath.Join(mnt, "filler")
	diskspacetest.MustFill(t, filler)
	time.Sleep(1100 * time.Millisecond) // past the cached reading of the room
	bs := append(blockstoretest.RandomBlocks(t, 200, 1<<10), blockstoretest.RandomBlocks(t, 4, 64<<10)...)
	for _, b := range bs {
		c.Put(ctx, b)
	}
	if n := c.Size(); n != 0 || c.Off() {
		t.Fatalf("on a full disk the cache took %d bytes (off: %v)", n, c.Off())
	}
	for _, b := range bs {
		if _, ok := c.Get(ctx, b.Cid()); ok {
			t.Fatalf("block %s cached on a full disk", b.Cid())
		}
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	for _, b := range bs {
		c.Put(ctx, b)
	}
	for _, b := range bs {
		if got, ok := c.Get(ctx, b.Cid()); !ok || string(got.RawData()) != string(b.RawData()) {
			t.Fatalf("block %s not cached with room again", b.Cid())
		}
	}
}

// TestCacheWriteFailsFullDisk fills the disk under a cache faster than it
// looks at the room (it reads it once a second): the write that fails
// turns the cache off; nothing panics (Pebble's log, which panicked on a
// full disk, is off in the cache), every later Get is a miss at once, and
// Close returns.
func TestCacheWriteFailsFullDisk(t *testing.T) {
	ctx := context.Background()
	mnt := diskspacetest.MustMount(t, 32<<20)
	c, err := blockstore.OpenCache(filepath.Join(mnt, "cache"), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	bs := blockstoretest.RandomBlocks(t, 3000, 2<<10)
	for i, b := range blockstoretest.RandomBlocks(t, 30, 64<<10) {
		bs = slices.Insert(bs, 1+i*100, b) // large blocks, in files
	}
	c.Put(ctx, bs[0]) // reads the room: there is some
	diskspacetest.MustFill(t, filepath.Join(mnt, "filler"))
	within(t, "writing to a cache on a full disk", func() {
		for _, b := range bs[1:] {
			c.Put(ctx, b)
		}
	})
	if !c.Off() {
		t.Fatalf("3030 writes to a full disk did not turn the cache off (it holds %d bytes)", c.Size())
	}
	within(t, "reading a cache that is off", func() {
		for _, b := range bs {
			if _, ok := c.Get(ctx, b.Cid()); ok {
				t.Fatal("a cache that is off answered a Get")
			}
		}
		c.Delete(ctx, [][]byte{bs[0].Cid().Hash()})
	})
	within(t, "closing a cache that is off", func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
}

// within fails the test if fn has not returned in a minute.
func within(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("%s did not return in a minute", what)
	}
}

// TestCacheReopen: the small blocks cached (in Pebble, which keeps no log
// for the cache) are still there after a Close and an open.
func TestCacheReopen(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "cache")
	var all []blocks.Block
	for i := range 3 {
		c, err := blockstore.OpenCache(dir, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		if n := c.Size(); n != int64(i*10<<10) {
			t.Fatalf("open %d: the cache holds %d bytes, want %d", i, n, i*10<<10)
		}
		for _, b := range all {
			if _, ok := c.Get(ctx, b.Cid()); !ok {
				t.Fatalf("open %d: block %s lost", i, b.Cid())
			}
		}
		bs := blockstoretest.RandomBlocks(t, 10, 1<<10)
		for _, b := range bs {
			c.Put(ctx, b)
		}
		all = append(all, bs...)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
