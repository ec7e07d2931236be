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

// ClaimTx is a store's claim transaction as Claim uses it: each method
// one statement, or a few, of the store's own SQL, with its own locking.
type ClaimTx interface {
	QueueTx
	// ReadyRetries makes the queued requests whose retry time has passed
	// ready again (see ReadyDue).
	ReadyRetries(ctx context.Context) error
	// Expired returns up to n pinning requests whose lease has run out,
	// the oldest lease first, with Turn 0.
	Expired(ctx context.Context, n int) ([]QueuedPin, error)
	// Ready returns up to n ready requests (queued, not waiting to retry,
	// not held) in queue order: Turn, Created, ID.
	Ready(ctx context.Context, n int) ([]QueuedPin, error)
	// AdvanceVTime moves the queue's virtual time up to turn, if it is
	// behind it.
	AdvanceVTime(ctx context.Context, turn int64) error
	// Lease leases the requests ids to the claim's owner, with their
	// progress reset, and returns them in any order.
	Lease(ctx context.Context, ids []string) ([]*PinRequest, error)
}

// Claim takes up to n requests for a worker, as PinStore.ClaimPins says,
// in one claim transaction: due retries become ready first; then expired
// leases are taken, then ready requests in queue order, the requests of
// blocked accounts held instead of claimed, whichever way they came back
// to the queue (Claimable); the queue's virtual time moves up to the last
// turn claimed. It returns the requests in that order, nil for none.
func Claim(ctx context.Context, tx ClaimTx, n int) ([]*PinRequest, error) {
	if err := tx.ReadyRetries(ctx); err != nil {
		return nil, err
	}
	ids, _, err := Claimable(ctx, tx, func(ctx context.Context) ([]QueuedPin, error) { return tx.Expired(ctx, n) })
	if err != nil {
		return nil, err
	}
	var lastTurn int64
	if m := n - len(ids); m > 0 {
		var ready []string
		if ready, lastTurn, err = Claimable(ctx, tx, func(ctx context.Context) ([]QueuedPin, error) { return tx.Ready(ctx, m) }); err != nil {
			return nil, err
		}
		ids = append(ids, ready...)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	if lastTurn > 0 {
		if err := tx.AdvanceVTime(ctx, lastTurn); err != nil {
			return nil, err
		}
	}
	pins, err := tx.Lease(ctx, ids)
	if err != nil {
		return nil, err
	}
	InClaimOrder(pins, ids)
	return pins, nil
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
