package s3_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tack-ipfs/tack/blockstore/blockstoretest"
	"github.com/tack-ipfs/tack/sqlite/sqlitetest"
)

// lines is a log handler's output, safe to read while it is written.
type lines struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A bucket that stops answering (MinIO frozen with SIGSTOP) never hangs
// the store: a read of a block only the bucket holds fails within the
// read timeout, and a pack upload runs out of its write timeout, is logged
// as stalled, and is retried until it succeeds once the bucket is back.
func TestFrozenBucket(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var logs lines
	o := e.options(newPrefix(), sqlitetest.MustOpen(t))
	o.ReadTimeout, o.WriteTimeout = 1500*time.Millisecond, time.Second
	o.Log = slog.New(slog.NewTextHandler(&logs, nil))
	s := MustOpen(t, o)
	bs := blockstoretest.RandomBlocks(t, 2, 1000)
	if err := s.Put(ctx, bs[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}

	e.srv.Pause(t)
	resumed := false
	defer func() {
		if !resumed {
			e.srv.Resume(t)
		}
	}()
	// The guard is far above the read timeout: it only keeps a read that
	// hangs from hanging the test.
	const guard = 20 * time.Second
	read := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := s.Get(ctx, bs[0].Cid())
		read <- err
	}()
	select {
	case err := <-read:
		if err == nil {
			t.Fatal("a read from the frozen bucket succeeded")
		}
		t.Logf("the read failed after %s: %v", time.Since(start).Round(time.Millisecond), err)
		if !strings.Contains(err.Error(), "did not answer") {
			t.Errorf("the read failed with %q, want it to say the bucket did not answer", err)
		}
	case <-time.After(guard):
		t.Fatalf("a read from the frozen bucket still hangs after %s (read timeout %s)", guard, o.ReadTimeout)
	}

	if err := s.Put(ctx, bs[1]); err != nil {
		t.Fatal(err)
	}
	synced := make(chan error, 1)
	go func() { synced <- s.Sync(ctx) }()
	for !strings.Contains(logs.String(), "pack upload stalled") {
		select {
		case err := <-synced:
			t.Fatalf("Sync returned %v while the bucket was frozen", err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Since(start) > guard {
			t.Fatalf("no stalled upload was logged after %s (write timeout %s); the log:\n%s", guard, o.WriteTimeout, logs.String())
		}
	}
	e.srv.Resume(t)
	resumed = true
	select {
	case err := <-synced:
		if err != nil {
			t.Fatalf("Sync after the bucket came back: %v\n%s", err, logs.String())
		}
	case <-time.After(guard):
		t.Fatalf("Sync still waits %s after the bucket came back; the log:\n%s", guard, logs.String())
	}
	if !strings.Contains(logs.String(), "stored a pack after failed attempts") {
		t.Errorf("the upload's success after its stall was not logged:\n%s", logs.String())
	}
	blockstoretest.MustGetEqual(t, s, bs[0])
	blockstoretest.MustGetEqual(t, s, bs[1])
}
