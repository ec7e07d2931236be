package pinner_test

import (
	"context"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	blocks "github.com/ipfs/go-block-format"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/internal/testpeer"
	"github.com/tack-ipfs/tack/pinner"
	"github.com/tack-ipfs/tack/sqlite/sqlitetest"
	"github.com/tack-ipfs/tack/storetest"
)

// fillingDisk fails its first writes, as a full disk does until the
// operator makes room.
type fillingDisk struct {
	fullDisk
	failures atomic.Int32
}

func (d *fillingDisk) PutMany(ctx context.Context, bs []blocks.Block) error {
	if d.failures.Add(-1) >= 0 {
		return &os.PathError{Op: "write", Path: "blocks/000001.log", Err: syscall.ENOSPC}
	}
	return d.Blockstore.PutMany(ctx, bs)
}

// TestStorageErrorRequeues: when blocks cannot be stored, the request goes
// back to the queue (it is not the request's fault, and it was accepted),
// claiming pauses, and the pin completes once the disk takes writes again.
func TestStorageErrorRequeues(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := sqlitetest.MustOpen(t)
	peer := testpeer.New(t)
	root := peer.AddFile(t, 1<<20, 4<<10, 1)

	disk := &fillingDisk{fullDisk: fullDisk{memBlockstore()}}
	disk.failures.Store(1)
	n := newNode(t, disk, peer)
	p := pinner.New(db, pinner.Walker{Blockstore: disk, HashedByFetcher: true}, n,
		func(context.Context) error { return nil }, "w1",
		pinner.Config{Backoff: 500 * time.Millisecond, Poll: 50 * time.Millisecond}, nil)

	a := storetest.MustCreateAccount(t, db, "d@example.com")
	r := storetest.NewPin(t, a.ID, "on a full disk")
	r.Pin.CID, r.Key = root.String(), tack.ContentKey(root)
	storetest.MustCreatePin(t, db, r)

	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var statuses []tack.Status
	var waiting string
	for {
		if w := p.Waiting(); w != "" {
			waiting = w
		}
		got := storetest.MustFindPin(t, db, a.ID, r.ID)
		if len(statuses) == 0 || statuses[len(statuses)-1] != got.Status {
			statuses = append(statuses, got.Status)
		}
		if got.Status == tack.StatusFailed {
			t.Fatalf("the request failed: %s", got.Details)
		}
		if got.Status == tack.StatusPinned {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("not pinned; statuses seen %v", statuses)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if disk.failures.Load() >= 0 {
		t.Error("the disk never failed a write")
	}
	// While claiming paused, the pinner said why, for queued requests'
	// status_details; once it claims again, it says nothing.
	if !strings.HasPrefix(waiting, "waiting: no room on the data disk; fetching starts again after ") {
		t.Errorf("Waiting() during the pause = %q, want it to say the data disk has no room", waiting)
	}
	if w := p.Waiting(); w != "" {
		t.Errorf("Waiting() after the pin = %q, want \"\"", w)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	// Run has returned, so every fetch has counted its outcome.
	st := p.Stats()
	if st.BlockstoreErrors != 1 || st.Pinned != 1 || st.Failed != 0 || st.StoreErrors != 0 || st.Fetches != 0 {
		t.Errorf("Stats() = %+v, want 1 blockstore error, 1 pinned, no failures and no fetches running", st)
	}
	if st.FetchedBlocks < 256 || st.FetchedBytes < 1<<20 {
		t.Errorf("Stats() = %+v, want at least the DAG's 256 leaves (1 MiB) fetched", st)
	}
}
