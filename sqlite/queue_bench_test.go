package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/tack-ipfs/tack"
)

// BenchmarkQueuePositions: where queued requests stand in a queue of
// 100,000, for one request at the back and for a page of 1,000.
//
//	go test ./sqlite -run '^$' -bench QueuePositions
func BenchmarkQueuePositions(b *testing.B) {
	const queue = 100_000
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "tack.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	a := &tack.Account{Email: "q@example.com", Access: tack.AccessApproved}
	if err := db.CreateAccount(ctx, a); err != nil {
		b.Fatal(err)
	}
	err = db.write(ctx, func(ctx context.Context, tx *txn) error {
		for i := range queue {
			if _, err := tx.ExecContext(ctx, `
				INSERT INTO pins (id, account_id, cid, key, name, name_lower, origins, meta, status, created, turn)
				VALUES (?, ?, 'c', 'k', '', '', '[]', '{}', 'queued', ?, ?)`,
				fmt.Sprintf("id-%06d", i), a.ID, int64(1_700_000_000_000_000+i), i+1); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	last := "id-" + fmt.Sprintf("%06d", queue-1)
	for _, n := range []int{1, 1000} {
		b.Run(fmt.Sprintf("%d-at-the-back", n), func(b *testing.B) {
			var reqs []*tack.PinRequest
			for b.Loop() {
				reqs, _, err = db.FindPins(ctx, tack.PinFilter{AccountID: a.ID, Statuses: []tack.Status{tack.StatusQueued}, Limit: n})
				if err != nil {
					b.Fatal(err)
				}
				if err := db.QueuePositions(ctx, reqs); err != nil {
					b.Fatal(err)
				}
			}
			if reqs[0].ID != last || !reqs[0].PositionOver || reqs[0].OwnAhead != queue-1 {
				b.Fatalf("newest request %s: over %v, own ahead %d; want %s past the count with %d ahead",
					reqs[0].ID, reqs[0].PositionOver, reqs[0].OwnAhead, last, queue-1)
			}
		})
	}
}

// BenchmarkCreatePin: new queued requests from 8 clients at once, as the
// API stores them (group commit batches them into shared transactions).
//
//	go test ./sqlite -run '^$' -bench CreatePin
func BenchmarkCreatePin(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "tack.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	a := &tack.Account{Email: "c@example.com", Access: tack.AccessApproved}
	if err := db.CreateAccount(ctx, a); err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.SetParallelism(4) // 8 goroutines on 2 cores
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			r := &tack.PinRequest{AccountID: a.ID, Pin: tack.Pin{CID: "c"}, Key: fmt.Sprintf("k%d", i)}
			if err := db.CreatePin(ctx, r); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
