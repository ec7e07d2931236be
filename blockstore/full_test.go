package blockstore_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	blocks "github.com/ipfs/go-block-format"

	"github.com/tack-ipfs/tack/blockstore"
	"github.com/tack-ipfs/tack/blockstore/blockstoretest"
	"github.com/tack-ipfs/tack/internal/diskspace"
	"github.com/tack-ipfs/tack/internal/diskspace/diskspacetest"
)

// crashedStore leaves in dir a blockstore as a killed process leaves it:
// small blocks written and synced to Pebble's log, never flushed to a
// table, so that the next open must replay the log and write a table.
func crashedStore(t *testing.T, dir string) []blocks.Block {
	t.Helper()
	ctx := context.Background()
	live := filepath.Join(filepath.Dir(dir), "live")
	l, err := blockstore.OpenLocal(live)
	if err != nil {
		t.Fatal(err)
	}
	bs := blockstoretest.RandomBlocks(t, 600, 4<<10) // 2.4 MB of small blocks
	if err := l.PutMany(ctx, bs); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	// A copy of the open store is what a kill -9 leaves on disk.
	if out, err := exec.Command("cp", "-a", live, dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(live); err != nil {
		t.Fatal(err)
	}
	return bs
}

// openOrHang opens the store, and fails the test if the open has not
// returned within a minute: on a full disk Pebble's open used to retry
// its flush forever.
func openOrHang(t *testing.T, ctx context.Context, dir string, opts ...blockstore.Option) (*blockstore.Local, error) {
	t.Helper()
	type result struct {
		l   *blockstore.Local
		err error
	}
	done := make(chan result, 1)
	go func() {
		l, err := blockstore.OpenLocalContext(ctx, dir, opts...)
		done <- result{l, err}
	}()
	select {
	case r := <-done:
		return r.l, r.err
	case <-time.After(time.Minute):
		t.Fatal("OpenLocal on a full disk did not return in a minute")
		return nil, nil
	}
}

// TestLocalOpenFullDisk opens, on a full disk, a store whose log must be
// replayed: without room the open returns at once with an error that
// names the directory and how much to free; with a reserve to release,
// it opens and every block is there.
func TestLocalOpenFullDisk(t *testing.T) {
	ctx := context.Background()
	mnt := diskspacetest.MustMount(t, 64<<20)
	dir := filepath.Join(mnt, "blocks")
	bs := crashedStore(t, dir)
	reserve := diskspace.NewReserve(filepath.Join(mnt, "reserve"), 8<<20)
	if held, err := reserve.Make(); err != nil || !held {
		t.Fatalf("making the reserve: held %v, %v", held, err)
	}
	diskspacetest.MustFill(t, filepath.Join(mnt, "filler"))

	_, err := openOrHang(t, ctx, dir)
	var full *diskspace.NoRoomError
	if !errors.As(err, &full) || !diskspace.IsFull(err) {
		t.Fatalf("open on a full disk: got %v, want a NoRoomError", err)
	}
	if msg := err.Error(); !strings.Contains(msg, dir) || !strings.Contains(msg, "free at least") {
		t.Errorf("the error %q does not name the directory and what to free", msg)
	}
	if full.Need <= full.Free {
		t.Errorf("the error asks for %d bytes with %d free", full.Need, full.Free)
	}

	// With a reserve to release, the open frees it and succeeds.
	released := 0
	l, err := openOrHang(t, ctx, dir, blockstore.WithDiskFull(func() {
		released++
		if _, err := reserve.Release(); err != nil {
			t.Error(err)
		}
	}))
	if err != nil {
		t.Fatalf("open with a reserve to release: %v", err)
	}
	defer l.Close()
	if released == 0 || reserve.Held() {
		t.Errorf("the reserve was not released (%d calls)", released)
	}
	for _, b := range bs {
		if ok, err := l.Has(ctx, b.Cid()); err != nil || !ok {
			t.Fatalf("block %s after the open on a full disk: has %v, %v", b.Cid(), ok, err)
		}
	}
}

// TestLocalOpenCancelled: an open that cannot finish ends with its
// context.
func TestLocalOpenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := openOrHang(t, ctx, filepath.Join(t.TempDir(), "blocks"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("open with a cancelled context: %v", err)
	}
}

// TestLocalWithRoom: while the room function refuses, no block is
// written, and deletions go on.
func TestLocalWithRoom(t *testing.T) {
	ctx := context.Background()
	short := errors.New("the disk is short")
	var refuse bool
	l, err := blockstore.OpenLocal(filepath.Join(t.TempDir(), "blocks"), blockstore.WithRoom(func() error {
		if refuse {
			return short
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	bs := blockstoretest.RandomBlocks(t, 2, blockstore.SmallBlock+1)
	if err := l.Put(ctx, bs[0]); err != nil {
		t.Fatal(err)
	}
	refuse = true
	if err := l.Put(ctx, bs[1]); !errors.Is(err, short) {
		t.Fatalf("Put while short: %v", err)
	}
	if err := l.PutMany(ctx, bs[1:]); !errors.Is(err, short) {
		t.Fatalf("PutMany while short: %v", err)
	}
	if err := l.DeleteBlock(ctx, bs[0].Cid()); err != nil {
		t.Fatalf("delete while short: %v", err)
	}
	if ok, _ := l.Has(ctx, bs[1].Cid()); ok {
		t.Fatal("a block was written while short")
	}
}
