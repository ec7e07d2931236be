package blockstore_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

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
