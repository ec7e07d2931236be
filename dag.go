package tack

import "context"

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
