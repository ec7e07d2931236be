package blockstore

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	blocks "github.com/ipfs/go-block-format"
	"github.com/tack-ipfs/tack/blockstore/blockstoretest"
	"github.com/tack-ipfs/tack/internal/diskspace"
	"github.com/tack-ipfs/tack/internal/diskspace/diskspacetest"
)

// lockedBuffer is a log destination for Pebble's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestOpenPebbleGivesUp opens Pebble on a full disk past the room check:
// Pebble's flush of the replayed log fails and Pebble retries it for ever,
// but openPebble returns with a NoRoomError at the first failure, and the
// abandoned open retries slowly rather than spinning.
func TestOpenPebbleGivesUp(t *testing.T) {
	ctx := context.Background()
	mnt := diskspacetest.MustMount(t, 64<<20)
	live, crashed := filepath.Join(mnt, "live"), filepath.Join(mnt, "crashed")
	l, err := OpenLocal(live)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.PutMany(ctx, blockstoretest.RandomBlocks(t, 600, 4<<10)); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", filepath.Join(live, "pebble"), crashed).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	diskspacetest.MustFill(t, filepath.Join(mnt, "filler"))

	var logged lockedBuffer
	o := newOptions([]Option{WithLogger(slog.New(slog.NewTextHandler(&logged, nil)))})
	done := make(chan error, 1)
	go func() {
		_, err := openPebble(ctx, crashed, o)
		done <- err
	}()
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		t.Fatal("openPebble on a full disk did not return in a minute")
	}
	var full *diskspace.NoRoomError
	if !errors.As(err, &full) || !strings.Contains(err.Error(), crashed) {
		t.Fatalf("openPebble on a full disk: %v, want a NoRoomError naming %s", err, crashed)
	}
	// Pebble goes on retrying the abandoned open: 10 ms, doubling, to a
	// second apart, so a few seconds bring a dozen lines, not thousands.
	time.Sleep(3 * time.Second)
	if n := strings.Count(logged.String(), "background job failed"); n > 20 {
		t.Errorf("the abandoned open failed %d times in 3 s, want its retries slowed", n)
	}
}

// Sync flushes the filesystem only when a large block was written since
// the last flush: small blocks need only Pebble's log synced.
func TestSyncSkipsSyncfsWithoutLargeBlocks(t *testing.T) {
	ctx := context.Background()
	l, err := OpenLocal(filepath.Join(t.TempDir(), "blocks"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	small := blocks.NewBlock(bytes.Repeat([]byte{1}, 100))
	large := blocks.NewBlock(bytes.Repeat([]byte{2}, SmallBlock+1))
	larger := blocks.NewBlock(bytes.Repeat([]byte{3}, SmallBlock+2))
	for i, step := range []struct {
		put  []blocks.Block
		want int64 // syncfs calls so far
	}{
		{nil, 0},
		{[]blocks.Block{small}, 0},
		{[]blocks.Block{large}, 1},
		{nil, 1},
		{[]blocks.Block{small}, 1},
		{[]blocks.Block{small, larger}, 2},
	} {
		if len(step.put) > 0 {
			if err := l.PutMany(ctx, step.put); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if got := l.syncfsCalls.Load(); got != step.want {
			t.Errorf("step %d: %d syncfs calls, want %d", i, got, step.want)
		}
	}
}

// Large blocks are written by files and read, listed and deleted through
// flatfs; DiskUsage counts them across a reopen, and the count's key in
// Pebble is never listed as a block.
func TestLargeBlocksDiskUsage(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "blocks")
	l, err := OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	bs := blockstoretest.RandomBlocks(t, 8, 100<<10)
	small := blocks.NewBlock([]byte("small"))
	if err := l.PutMany(ctx, append(bs[:4:4], small)); err != nil {
		t.Fatal(err)
	}
	for _, b := range bs[4:] {
		if err := l.Put(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	du0, _ := l.DiskUsage(ctx)
	if du0 < 8*100<<10 {
		t.Errorf("DiskUsage %d after 8 blocks of 100 KiB", du0)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if l, err = OpenLocal(dir); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if du, _ := l.DiskUsage(ctx); du < 8*100<<10 {
		t.Errorf("DiskUsage %d after reopening, was %d", du, du0)
	}
	var listed int
	if err := l.ForEachBlock(ctx, func(s Stored) error { listed++; return nil }); err != nil {
		t.Fatal(err)
	}
	if listed != 9 {
		t.Errorf("ForEachBlock listed %d blocks, want 9", listed)
	}
	for _, b := range bs {
		got, err := l.Get(ctx, b.Cid())
		if err != nil || !bytes.Equal(got.RawData(), b.RawData()) {
			t.Fatalf("Get: %v", err)
		}
	}
	for _, b := range bs[:6] {
		if err := l.DeleteBlock(ctx, b.Cid()); err != nil {
			t.Fatal(err)
		}
	}
	if du, _ := l.DiskUsage(ctx); du >= du0-5*100<<10 || du < 2*100<<10 {
		t.Errorf("DiskUsage %d after deleting 6 of 8 blocks, was %d", du, du0)
	}
	if ok, _ := l.Has(ctx, bs[0].Cid()); ok {
		t.Error("a deleted block is still there")
	}
	// None of the puts' temporary files is left in flatfs's temporary
	// directory. flatfs's own ("temp-…", its disk usage file) come and go
	// as its checkpoint goroutine writes them.
	ents, err := os.ReadDir(filepath.Join(dir, "flatfs", ".temp"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "put-") {
			t.Errorf("flatfs/.temp holds %s", e.Name())
		}
	}
}
