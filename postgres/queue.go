package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/internal/sqlrow"
)

// ClaimPins hands up to n requests to the worker owner, as the
// tack.PinStore contract says, by tack.Claim's rules (expired leases
// first, then ready requests in turn order) over claimTx's statements.
// Candidates are selected FOR UPDATE SKIP LOCKED: a request that another
// node is claiming at the same moment is passed over, not waited for, and
// no request goes to two owners.
func (db *DB) ClaimPins(ctx context.Context, owner string, n int, until time.Time) ([]*tack.PinRequest, error) {
	if err := tack.CheckLeaseOwner(owner); err != nil {
		return nil, err
	}
	if n <= 0 {
		return []*tack.PinRequest{}, nil
	}
	var pins []*tack.PinRequest
	err := db.write(ctx, func(tx pgx.Tx) error {
		var err error
		pins, err = tack.Claim(ctx, claimTx{queueTx{tx}, owner, until, db.now()}, n)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim pins: %w", err)
	}
	return pins, nil
}

// retryHeld is tack.RetryHeld in SQL.
const retryHeld = "-1"

// queueTx is a write transaction as tack's queue rules use it.
type queueTx struct{ tx pgx.Tx }

// Hold puts requests of blocked accounts back in the queue, held.
func (q queueTx) Hold(ctx context.Context, ids []string) error {
	_, err := q.tx.Exec(ctx, `
		UPDATE pins SET status = 'queued', retry_at = `+retryHeld+`, lease_owner = '', lease_until = 0, blocks = 0, bytes = 0
		WHERE id = ANY($1)`, ids)
	return err
}

// TakeTurns is takeTurns.
func (q queueTx) TakeTurns(ctx context.Context, accountID, n int64) (int64, error) {
	return takeTurns(ctx, q.tx, accountID, n)
}

// claimTx is a claim transaction, for tack.Claim: the claim of owner,
// leasing until until, at now. Its candidates are selected FOR UPDATE
// SKIP LOCKED.
type claimTx struct {
	queueTx
	owner string
	until time.Time
	now   int64
}

// ReadyRetries is readyRetries, at the claim's now.
func (c claimTx) ReadyRetries(ctx context.Context) error { return readyRetries(ctx, c.tx, c.now) }

// Expired selects expired leases, skipping those another claim holds.
func (c claimTx) Expired(ctx context.Context, n int) ([]tack.QueuedPin, error) {
	return queryAll(ctx, c.tx, sqlrow.ScanQueuedPin, `
		SELECT p.id, p.account_id, 0, a.blocked FROM pins p JOIN accounts a ON a.id = p.account_id
		WHERE p.status = 'pinning' AND p.lease_until < $1
		ORDER BY p.lease_until LIMIT $2
		FOR UPDATE OF p SKIP LOCKED`, c.now, n)
}

// Ready selects ready requests, skipping those another claim holds.
func (c claimTx) Ready(ctx context.Context, n int) ([]tack.QueuedPin, error) {
	return queryAll(ctx, c.tx, sqlrow.ScanQueuedPin, `
		SELECT `+sqlrow.QueuedPinColumns+` FROM pins p JOIN accounts a ON a.id = p.account_id
		WHERE p.status = 'queued' AND p.retry_at = 0
		ORDER BY p.turn, p.created, p.id LIMIT $1
		FOR UPDATE OF p SKIP LOCKED`, n)
}

// AdvanceVTime moves queue_state.vtime up to turn.
func (c claimTx) AdvanceVTime(ctx context.Context, turn int64) error {
	_, err := c.tx.Exec(ctx, `UPDATE queue_state SET vtime = GREATEST(vtime, $1)`, turn)
	return err
}

// Lease leases ids to the claim's owner.
func (c claimTx) Lease(ctx context.Context, ids []string) ([]*tack.PinRequest, error) {
	return queryAll(ctx, c.tx, sqlrow.ScanPin, `
		UPDATE pins
		SET status = 'pinning', lease_owner = $1, lease_until = $2, details = '', blocks = 0, bytes = 0
		WHERE id = ANY($3)
		RETURNING `+sqlrow.PinColumns, c.owner, micros(c.until), ids)
}

// maxReadyRetries is how many waiting requests one claim makes ready, so
// that a claim costs the same however many retries fall due at once.
const maxReadyRetries = 1000

// takeTurns gives the account its next n turns and returns the first.
// An account's turns follow each other, but never start before the
// queue's virtual time, so an account that was idle gets no credit for
// it: the first is max(last_turn + 1, vtime + 1). createPin applies the
// same rule (tack.NextTurn) to the row it has locked already, on the API's hot path.
func takeTurns(ctx context.Context, tx pgx.Tx, accountID, n int64) (int64, error) {
	var last int64
	err := tx.QueryRow(ctx, `
		UPDATE accounts SET last_turn = GREATEST(last_turn, (SELECT vtime FROM queue_state)) + $1
		WHERE id = $2
		RETURNING last_turn`, n, accountID).Scan(&last)
	if err != nil {
		return 0, fmt.Errorf("account %d: %w", accountID, err)
	}
	return last - n + 1, nil
}

// readyRetries makes the queued requests whose retry time has passed
// ready again, each at the back of its account's turns; those of blocked
// accounts are held instead. Due requests that another claim is making
// ready at the same moment are skipped.
func readyRetries(ctx context.Context, tx pgx.Tx, now int64) error {
	dues, err := queryAll(ctx, tx, sqlrow.ScanQueuedPin, `
		SELECT `+sqlrow.QueuedPinColumns+` FROM pins p JOIN accounts a ON a.id = p.account_id
		WHERE p.status = 'queued' AND p.retry_at > 0 AND p.retry_at <= $1
		ORDER BY p.retry_at LIMIT $2
		FOR UPDATE OF p SKIP LOCKED`, now, maxReadyRetries)
	if err != nil {
		return err
	}
	return tack.ReadyDue(ctx, queueTx{tx}, dues, func(ctx context.Context, id string, turn int64) error {
		_, err := tx.Exec(ctx, `UPDATE pins SET retry_at = 0, turn = $1 WHERE id = $2`, turn, id)
		return err
	})
}

// QueuePositions sets Position on the ready queued requests among reqs,
// as tack.QueuePositions walks them: each count a statement of its own,
// outside any transaction (one round trip, on the API's hot path, for a
// request past the horizon).
func (db *DB) QueuePositions(ctx context.Context, reqs []*tack.PinRequest) error {
	if err := tack.QueuePositions(ctx, queueReader{db.pool}, &db.horizon, reqs); err != nil {
		return fmt.Errorf("queue positions: %w", err)
	}
	return nil
}

// queueReader reads the ready requests, through pins_ready_idx, for
// tack.QueuePositions. Its ids compare in byte order, as their COLLATE
// "C" column does, and as tack.QueueKey's do.
type queueReader struct{ q querier }

// CountReady returns how many ready requests have keys in [from, to),
// counting no further than limit.
func (r queueReader) CountReady(ctx context.Context, from, to tack.QueueKey, limit int64) (int64, error) {
	var n int64
	err := r.q.QueryRow(ctx, `
		SELECT count(*) FROM (
			SELECT 1 FROM pins
			WHERE status = 'queued' AND retry_at = 0
			AND (turn, created, id) >= ($1, $2, $3) AND (turn, created, id) < ($4, $5, $6)
			LIMIT $7) s`,
		from.Turn, from.Created, from.ID, to.Turn, to.Created, to.ID, limit).Scan(&n)
	return n, err
}

// ReadyAt returns the key of the ready request with n ahead of it, or nil.
func (r queueReader) ReadyAt(ctx context.Context, n int64) (*tack.QueueKey, error) {
	var k tack.QueueKey
	err := r.q.QueryRow(ctx, `
		SELECT turn, created, id FROM pins
		WHERE status = 'queued' AND retry_at = 0
		ORDER BY turn, created, id LIMIT 1 OFFSET $1`, n).Scan(&k.Turn, &k.Created, &k.ID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return &k, nil
}

// ReadyHead returns the least turn of the account's ready requests, or 0.
func (r queueReader) ReadyHead(ctx context.Context, accountID int64) (int64, error) {
	var head int64
	err := r.q.QueryRow(ctx, `
		SELECT coalesce(min(turn), 0) FROM pins
		WHERE account_id = $1 AND status = 'queued' AND retry_at = 0`, accountID).Scan(&head)
	return head, err
}

// RenewLeases extends owner's lease on the given pinning requests until
// until and records blocks and bytes as their progress. It returns the IDs
// that owner still holds: a deleted, finished or taken-over request is left
// out.
func (db *DB) RenewLeases(ctx context.Context, owner string, ids []string, until time.Time, p tack.Progress) ([]string, error) {
	held := []string{}
	if len(ids) == 0 {
		return held, nil
	}
	err := db.write(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			UPDATE pins SET lease_until = $1, blocks = $2, bytes = $3, progress_at = GREATEST(progress_at, $4)
			WHERE status = 'pinning' AND lease_owner = $5 AND id = ANY($6)
			RETURNING id`, micros(until), p.Blocks, p.Bytes, micros(p.At), owner, ids)
		if err != nil {
			return err
		}
		held, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("renew leases: %w", err)
	}
	slices.Sort(held)
	return held, nil
}

// ReleasePins returns owner's pinning requests among ids (all of them if
// ids is nil) to the queue, with their progress reset.
func (db *DB) ReleasePins(ctx context.Context, owner string, ids []string) error {
	const set = `status = 'queued', lease_owner = '', lease_until = 0, details = '', blocks = 0, bytes = 0`
	if ids == nil {
		err := db.write(ctx, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `UPDATE pins SET `+set+` WHERE status = 'pinning' AND lease_owner = $1`, owner)
			return err
		})
		if err != nil {
			return fmt.Errorf("release pins: %w", err)
		}
		return nil
	}
	return db.updateOwned(ctx, "release pins", set, nil, owner, ids)
}

// RetryPins puts owner's pinning requests among retries back in the
// queue, each waiting until its At, with one more attempt counted, reason
// as their Details, and p.At (if later) as their ProgressAt.
func (db *DB) RetryPins(ctx context.Context, owner string, retries []tack.Retry, reason string, p tack.Progress) error {
	if len(retries) == 0 {
		return nil
	}
	ids, ats := make([]string, len(retries)), make([]int64, len(retries))
	for i, r := range retries {
		ids[i], ats[i] = r.ID, micros(r.At)
	}
	err := db.write(ctx, func(tx pgx.Tx) error {
		// retry_at must be positive: 0 means ready.
		_, err := tx.Exec(ctx, `
			UPDATE pins
			SET status = 'queued', lease_owner = '', lease_until = 0, retry_at = GREATEST(r.at, 1),
			    attempts = attempts + 1, details = $3, blocks = 0, bytes = 0,
			    progress_at = GREATEST(progress_at, $4)
			FROM unnest($1::text[], $2::bigint[]) AS r(id, at)
			WHERE pins.id = r.id AND pins.status = 'pinning' AND pins.lease_owner = $5`,
			ids, ats, reason, micros(p.At), owner)
		return err
	})
	if err != nil {
		return fmt.Errorf("retry pins: %w", err)
	}
	return nil
}

// FailPins marks owner's pinning requests among ids failed, with reason as
// their Details.
func (db *DB) FailPins(ctx context.Context, owner string, ids []string, reason string) error {
	return db.updateOwned(ctx, "fail pins", `
		status = 'failed', lease_owner = '', lease_until = 0, details = $3`,
		[]any{reason}, owner, ids)
}

// updateOwned applies set (whose arguments, setArgs, are $3 on) to
// owner's pinning requests among ids.
func (db *DB) updateOwned(ctx context.Context, op, set string, setArgs []any, owner string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	err := db.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			UPDATE pins SET `+set+`
			WHERE status = 'pinning' AND lease_owner = $1 AND id = ANY($2)`, append([]any{owner, ids}, setArgs...)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}
