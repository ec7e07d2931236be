package tack

import (
	"context"
	"slices"
)

// RetryHeld, as a queued request's retry time in the stores (retry_at),
// holds a request of a blocked account: neither ready (0) nor waiting for
// a time (> 0). Unblocking the account makes it ready.
const RetryHeld = -1

// QueuedPin is a request as the stores' queue statements read it for the
// rules below: its ID, account and turn, and whether the account is
// blocked.
type QueuedPin struct {
	ID        string
	AccountID int64
	Turn      int64
	Blocked   bool
}

// QueueTx is a store's write transaction as the queue's rules (Claimable,
// ReadyDue, Requeue) use it: each method one statement, or a few, of the
// store's own SQL.
type QueueTx interface {
	// Hold puts the queued or pinning requests ids, of blocked accounts,
	// back in the queue, held (RetryHeld).
	Hold(ctx context.Context, ids []string) error
	// TakeTurns gives the account its next n turns and returns the
	// first (NextTurn's rule, for n at once).
	TakeTurns(ctx context.Context, accountID, n int64) (int64, error)
}

// maxClaimRounds is how often Claimable asks for candidates at the most.
const maxClaimRounds = 4

// Claimable runs candidates, the store's query for requests a claim may
// take, and returns the ids of those it may: the requests of blocked
// accounts are held instead, which takes them out of the query's index,
// and the query is asked again, a few times at most. lastTurn is the turn
// of the last id returned.
func Claimable(ctx context.Context, tx QueueTx, candidates func(context.Context) ([]QueuedPin, error)) (ids []string, lastTurn int64, err error) {
	for range maxClaimRounds {
		ps, err := candidates(ctx)
		if err != nil {
			return nil, 0, err
		}
		var held []string
		ids = ids[:0]
		for _, p := range ps {
			if p.Blocked {
				held = append(held, p.ID)
				continue
			}
			ids, lastTurn = append(ids, p.ID), p.Turn
		}
		if len(held) == 0 {
			break
		}
		if err := tx.Hold(ctx, held); err != nil {
			return nil, 0, err
		}
	}
	return ids, lastTurn, nil
}

// InClaimOrder sorts pins, the claimed requests as a store's UPDATE ...
// RETURNING gave them (in no order), into the order of ids.
func InClaimOrder(pins []*PinRequest, ids []string) {
	order := make(map[string]int, len(ids))
	for i, id := range ids {
		order[id] = i
	}
	slices.SortFunc(pins, func(a, b *PinRequest) int { return order[a.ID] - order[b.ID] })
}

// ReadyDue makes dues, queued requests whose retry time has passed, ready
// again, each at the back of its account's turns, which ready records;
// those of blocked accounts are held instead.
func ReadyDue(ctx context.Context, tx QueueTx, dues []QueuedPin, ready func(ctx context.Context, id string, turn int64) error) error {
	for _, d := range dues {
		if d.Blocked {
			if err := tx.Hold(ctx, []string{d.ID}); err != nil {
				return err
			}
			continue
		}
		turn, err := tx.TakeTurns(ctx, d.AccountID, 1)
		if err != nil {
			return err
		}
		if err := ready(ctx, d.ID, turn); err != nil {
			return err
		}
	}
	return nil
}

// Requeue returns where p, a request going back to the queue, stands:
// held (retryAt RetryHeld, turn 0) if its account is blocked, else ready
// (retryAt 0) at the back of its account's turns.
func Requeue(ctx context.Context, tx QueueTx, p QueuedPin) (turn, retryAt int64, err error) {
	if p.Blocked {
		return 0, RetryHeld, nil
	}
	turn, err = tx.TakeTurns(ctx, p.AccountID, 1)
	return turn, 0, err
}
