package tack

import (
	"context"
	"fmt"
)

// CompleteTx is a store's write transaction completing a DAG, as
// Complete uses it: each method one statement of the store's own SQL,
// with its own locking.
type CompleteTx interface {
	// Waiting returns the accounts with queued or pinning requests for
	// key (locking their rows, where the store locks rows).
	Waiting(ctx context.Context, key string) ([]int64, error)
	// OverQuota returns CheckStorage's EQUOTA if the account may not
	// hold the DAG key of size bytes, nil if it may.
	OverQuota(ctx context.Context, accountID int64, key string, size int64) error
	// FailWaiting marks the account's queued or pinning requests for key
	// failed, with reason as their Details and no lease.
	FailWaiting(ctx context.Context, key string, accountID int64, reason string) error
	// PinWaiting marks every queued or pinning request for d's key
	// pinned, with d's size, no details and no lease.
	PinWaiting(ctx context.Context, d *DAG) error
}

// Complete settles the requests waiting on a DAG that the store has just
// recorded whole, as DAGStore.CompleteDAG says: the requests of accounts
// that the DAG would take over their MaxBytes fail with the EQUOTA
// message; every other queued or pinning request for it is pinned.
func Complete(ctx context.Context, tx CompleteTx, d *DAG) error {
	accounts, err := tx.Waiting(ctx, d.Key)
	if err != nil {
		return err
	}
	for _, id := range accounts {
		if err := tx.OverQuota(ctx, id, d.Key, d.Bytes); ErrorCode(err) == EQUOTA {
			if err := tx.FailWaiting(ctx, d.Key, id, ErrorMessage(err)); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
	}
	return tx.PinWaiting(ctx, d)
}

// ForgetPages runs DAGStore.ForgetDAGs a page of keys at a time, so that
// no transaction is long: page returns up to limit recorded keys after
// after, in key order ("" starts at the first); forget deletes the records
// of those of keys that no live request refers to, in one transaction of
// its own, and returns how many it deleted. It returns how many it
// deleted in all.
func ForgetPages(ctx context.Context, limit int,
	page func(ctx context.Context, after string, limit int) ([]string, error),
	forget func(ctx context.Context, keys []string) (int, error)) (int, error) {
	forgotten, after := 0, ""
	for {
		keys, err := page(ctx, after, limit)
		if err != nil {
			return forgotten, fmt.Errorf("forget dags: %w", err)
		}
		if len(keys) == 0 {
			return forgotten, nil
		}
		after = keys[len(keys)-1]
		n, err := forget(ctx, keys)
		forgotten += n
		if err != nil {
			return forgotten, fmt.Errorf("forget dags: %w", err)
		}
	}
}
