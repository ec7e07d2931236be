package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/internal/sqlrow"
)

// ClaimPins hands up to n requests to the worker owner, as the
// tack.PinStore contract says, by tack.Claim's rules (expired leases
// first, then ready requests in turn order) over claimTx's statements.
// It all happens in one write transaction, so no request goes to two
// owners.
func (db *DB) ClaimPins(ctx context.Context, owner string, n int, until time.Time) ([]*tack.PinRequest, error) {
	if err := tack.CheckLeaseOwner(owner); err != nil {
		return nil, err
	}
	if n <= 0 {
		return []*tack.PinRequest{}, nil
	}
	var pins []*tack.PinRequest
	err := db.write(ctx, func(ctx context.Context, tx *txn) error {
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
type queueTx struct{ tx *txn }

// Hold puts requests of blocked accounts back in the queue, held.
func (q queueTx) Hold(ctx context.Context, ids []string) error {
	for _, id := range ids {
		if _, err := q.tx.ExecContext(ctx, `
			UPDATE pins SET status = 'queued', retry_at = `+retryHeld+`, lease_owner = '', lease_until = 0, blocks = 0, bytes = 0
			WHERE id = ?`, id); err != nil {
			return err
		}
	}
	return nil
}

// TakeTurns is takeTurns.
func (q queueTx) TakeTurns(ctx context.Context, accountID, n int64) (int64, error) {
	return takeTurns(ctx, q.tx, accountID, n)
}

// claimTx is a claim transaction, for tack.Claim: the claim of owner,
// leasing until until, at now.
type claimTx struct {
	queueTx
	owner string
	until time.Time
	now   int64
}

// ReadyRetries is readyRetries, at the claim's now.
func (c claimTx) ReadyRetries(ctx context.Context) error { return readyRetries(ctx, c.tx, c.now) }

// Expired selects expired leases through pins_lease_idx.
func (c claimTx) Expired(ctx context.Context, n int) ([]tack.QueuedPin, error) {
	return queryAll(ctx, c.tx, sqlrow.ScanQueuedPin, `
		SELECT p.id, p.account_id, 0, a.blocked FROM pins p INDEXED BY pins_lease_idx JOIN accounts a ON a.id = p.account_id
		WHERE p.status = 'pinning' AND p.lease_until < ?
		ORDER BY p.lease_until LIMIT ?`, c.now, n)
}

// Ready selects ready requests through pins_ready_idx.
func (c claimTx) Ready(ctx context.Context, n int) ([]tack.QueuedPin, error) {
	return queryAll(ctx, c.tx, sqlrow.ScanQueuedPin, `
		SELECT `+sqlrow.QueuedPinColumns+` FROM pins p INDEXED BY pins_ready_idx JOIN accounts a ON a.id = p.account_id
		WHERE p.status = 'queued' AND p.retry_at = 0
		ORDER BY p.turn, p.created, p.id LIMIT ?`, n)
}

// AdvanceVTime moves queue_state.vtime up to turn.
func (c claimTx) AdvanceVTime(ctx context.Context, turn int64) error {
	_, err := c.tx.ExecContext(ctx, `UPDATE queue_state SET vtime = max(vtime, ?)`, turn)
	return err
}

// Lease leases ids to the claim's owner.
func (c claimTx) Lease(ctx context.Context, ids []string) ([]*tack.PinRequest, error) {
	args := []any{c.owner, micros(c.until)}
	for _, id := range ids {
		args = append(args, id)
	}
	return queryAll(ctx, c.tx, sqlrow.ScanPin, `
		UPDATE pins
		SET status = 'pinning', lease_owner = ?, lease_until = ?, details = '', blocks = 0, bytes = 0
		WHERE id IN (`+placeholders(len(ids))+`)
		RETURNING `+sqlrow.PinColumns, args...)
}

// maxReadyRetries is how many waiting requests one claim makes ready, so
// that a claim costs the same however many retries fall due at once.
const maxReadyRetries = 1000

// takeTurns gives the account its next n turns and returns the first.
// An account's turns follow each other, but never start before the
// queue's virtual time, so an account that was idle gets no credit for
// it: the first is max(last_turn + 1, vtime + 1). createPin applies the
// same rule (tack.NextTurn) to the row it has read already, on the API's hot path.
func takeTurns(ctx context.Context, tx *txn, accountID, n int64) (int64, error) {
	var last int64
	err := tx.QueryRowContext(ctx, `
		UPDATE accounts SET last_turn = max(last_turn, (SELECT vtime FROM queue_state)) + ?
		WHERE id = ?
		RETURNING last_turn`, n, accountID).Scan(&last)
	if err != nil {
		return 0, fmt.Errorf("account %d: %w", accountID, err)
	}
	return last - n + 1, nil
}

// readyRetries makes the queued requests whose retry time has passed
// ready again, each at the back of its account's turns; those of blocked
// accounts are held instead.
func readyRetries(ctx context.Context, tx *txn, now int64) error {
	dues, err := queryAll(ctx, tx, sqlrow.ScanQueuedPin, `
		SELECT `+sqlrow.QueuedPinColumns+` FROM pins p INDEXED BY pins_retry_idx JOIN accounts a ON a.id = p.account_id
		WHERE p.status = 'queued' AND p.retry_at > 0 AND p.retry_at <= ?
		ORDER BY p.retry_at LIMIT ?`, now, maxReadyRetries)
	if err != nil {
		return err
	}
	return tack.ReadyDue(ctx, queueTx{tx}, dues, func(ctx context.Context, id string, turn int64) error {
		_, err := tx.ExecContext(ctx, `UPDATE pins SET retry_at = 0, turn = ? WHERE id = ?`, turn, id)
		return err
	})
}

// QueuePositions sets Position on the ready queued requests among reqs,
// as tack.QueuePositions walks them, in one read transaction.
func (db *DB) QueuePositions(ctx context.Context, reqs []*tack.PinRequest) error {
	err := db.read(ctx, func(tx *txn) error {
		return tack.QueuePositions(ctx, queueReader{tx}, &db.horizon, reqs)
	})
	if err != nil {
		return fmt.Errorf("queue positions: %w", err)
	}
	return nil
}

// queueReader reads the ready requests in a transaction, through
// pins_ready_idx, for tack.QueuePositions.
type queueReader struct{ tx *txn }

// CountReady returns how many ready requests have keys in [from, to),
// counting no further than limit.
func (q queueReader) CountReady(ctx context.Context, from, to tack.QueueKey, limit int64) (int64, error) {
	var n int64
	err := q.tx.QueryRowContext(ctx, `
		SELECT count(*) FROM (
			SELECT 1 FROM pins INDEXED BY pins_ready_idx
			WHERE status = 'queued' AND retry_at = 0
			AND (turn, created, id) >= (?, ?, ?) AND (turn, created, id) < (?, ?, ?)
			LIMIT ?)`,
		from.Turn, from.Created, from.ID, to.Turn, to.Created, to.ID, limit).Scan(&n)
	return n, err
}

// ReadyAt returns the key of the ready request with n ahead of it, or nil.
func (q queueReader) ReadyAt(ctx context.Context, n int64) (*tack.QueueKey, error) {
	var k tack.QueueKey
	err := q.tx.QueryRowContext(ctx, `
		SELECT turn, created, id FROM pins INDEXED BY pins_ready_idx
		WHERE status = 'queued' AND retry_at = 0
		ORDER BY turn, created, id LIMIT 1 OFFSET ?`, n).Scan(&k.Turn, &k.Created, &k.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return &k, nil
}

// ReadyHead returns the least turn of the account's ready requests, or 0.
func (q queueReader) ReadyHead(ctx context.Context, accountID int64) (int64, error) {
	var head int64
	err := q.tx.QueryRowContext(ctx, `
		SELECT coalesce(min(turn), 0) FROM pins
		WHERE account_id = ? AND status = 'queued' AND retry_at = 0`, accountID).Scan(&head)
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
	err := db.write(ctx, func(ctx context.Context, tx *txn) error {
		args := []any{micros(until), p.Blocks, p.Bytes, micros(p.At), owner}
		for _, id := range ids {
			args = append(args, id)
		}
		var err error
		held, err = queryAll(ctx, tx, scanValue[string], `
			UPDATE pins SET lease_until = ?, blocks = ?, bytes = ?, progress_at = max(progress_at, ?)
			WHERE status = 'pinning' AND lease_owner = ? AND id IN (`+placeholders(len(ids))+`)
			RETURNING id`, args...)
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
	if ids == nil {
		err := db.write(ctx, func(ctx context.Context, tx *txn) error {
			_, err := tx.ExecContext(ctx, `
				UPDATE pins SET status = 'queued', lease_owner = '', lease_until = 0, details = '', blocks = 0, bytes = 0
				WHERE status = 'pinning' AND lease_owner = ?`, owner)
			return err
		})
		if err != nil {
			return fmt.Errorf("release pins: %w", err)
		}
		return nil
	}
	return db.updateOwned(ctx, "release pins", `
		status = 'queued', lease_owner = '', lease_until = 0, details = '', blocks = 0, bytes = 0`,
		nil, owner, ids)
}

// RetryPins puts owner's pinning requests among retries back in the
// queue, each waiting until its At, with one more attempt counted, reason
// as their Details, and p.At (if later) as their ProgressAt.
func (db *DB) RetryPins(ctx context.Context, owner string, retries []tack.Retry, reason string, p tack.Progress) error {
	if len(retries) == 0 {
		return nil
	}
	err := db.write(ctx, func(ctx context.Context, tx *txn) error {
		for _, r := range retries {
			// retry_at must be positive: 0 means ready.
			if _, err := tx.ExecContext(ctx, `
				UPDATE pins
				SET status = 'queued', lease_owner = '', lease_until = 0, retry_at = max(?, 1),
				    attempts = attempts + 1, details = ?, blocks = 0, bytes = 0,
				    progress_at = max(progress_at, ?)
				WHERE id = ? AND status = 'pinning' AND lease_owner = ?`,
				micros(r.At), reason, micros(p.At), r.ID, owner); err != nil {
				return err
			}
		}
		return nil
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
		status = 'failed', lease_owner = '', lease_until = 0, details = ?`,
		[]any{reason}, owner, ids)
}

// updateOwned applies set (with setArgs) to owner's pinning requests among
// ids.
func (db *DB) updateOwned(ctx context.Context, op, set string, setArgs []any, owner string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	args := append(setArgs, owner)
	for _, id := range ids {
		args = append(args, id)
	}
	err := db.write(ctx, func(ctx context.Context, tx *txn) error {
		_, err := tx.ExecContext(ctx, `
			UPDATE pins SET `+set+`
			WHERE status = 'pinning' AND lease_owner = ? AND id IN (`+placeholders(len(ids))+`)`, args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}
