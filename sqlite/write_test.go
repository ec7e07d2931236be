package sqlite

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestWritePanics: a write that panics inside a shared transaction does not
// leave the other writes of its batch waiting forever.
func TestWritePanics(t *testing.T) {
	t.Parallel()
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "tack.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.writeSem <- struct{}{} // hold the writer, so that the writes below queue up together
	var wg sync.WaitGroup
	results := make(chan error, 10)
	for i := range 10 {
		wg.Go(func() {
			defer func() { recover() }()
			results <- db.write(t.Context(), func(ctx context.Context, tx *txn) error {
				if i == 5 {
					panic("boom")
				}
				_, err := tx.ExecContext(ctx, `UPDATE queue_state SET vtime = vtime`)
				return err
			})
		})
	}
	for {
		db.mu.Lock()
		n := len(db.queue)
		db.mu.Unlock()
		if n == 10 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	<-db.writeSem
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("writes of a batch in which one panicked are still waiting")
	}
	close(results)
	if n := len(results); n != 9 {
		t.Errorf("%d writes answered, want the 9 that did not panic", n)
	}
	// The writer is free again.
	if err := db.write(t.Context(), func(ctx context.Context, tx *txn) error { return nil }); err != nil {
		t.Errorf("a write after the panic: %v", err)
	}
}
