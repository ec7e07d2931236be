package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tack-ipfs/tack"
)

// ClaimPins hands up to n requests to the worker owner, as the
// tack.PinStore contract says: expired leases first, then ready requests
// in turn order. Requests whose retry time has come become ready first.
// It all happens in one write transaction, so no request goes to two
// owners; the queue's virtual time moves up to the last turn claimed.
func (db *DB) ClaimPins(ctx context.Context, owner string, n int, until time.Time) ([]*tack.PinRequest, error) {
	if owner == "" {
		return nil, tack.Errorf(tack.EINVALID, "lease owner is required")
	}
	if n <= 0 {
		return []*tack.PinRequest{}, nil
	}
	var pins []*tack.PinRequest
	err := db.write(ctx, func(ctx context.Context, tx *txn) error {
		now := db.now()
		if err := readyRetries(ctx, tx, now); err != nil {
			return err
		}
		// PostgreSQL: FOR UPDATE SKIP LOCKED on both selects. Requests of
		// blocked accounts are held instead of claimed, whichever way they
		// came back to the queue.
		ids, _, err := claimable(ctx, tx, `
			SELECT p.id, 0, a.blocked FROM pins p INDEXED BY pins_lease_idx JOIN accounts a ON a.id = p.account_id
			WHERE p.status = 'pinning' AND p.lease_until < ?
			ORDER BY p.lease_until LIMIT ?`, now, n)
		if err != nil {
			return err
		}
		var lastTurn int64
		if len(ids) < n {
			var ready []string
			if ready, lastTurn, err = claimable(ctx, tx, `
				SELECT p.id, p.turn, a.blocked FROM pins p INDEXED BY pins_ready_idx JOIN accounts a ON a.id = p.account_id
				WHERE p.status = 'queued' AND p.retry_at = 0
				ORDER BY p.turn, p.created, p.id LIMIT ?`, n-len(ids)); err != nil {
				return err
			}
			ids = append(ids, ready...)
		}
		if len(ids) == 0 {
			return nil
		}
		if lastTurn > 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE queue_state SET vtime = max(vtime, ?)`, lastTurn); err != nil {
				return err
			}
		}
		args := []any{owner, micros(until)}
		for _, id := range ids {
			args = append(args, id)
		}
		rows, err := tx.QueryContext(ctx, `
			UPDATE pins
			SET status = 'pinning', lease_owner = ?, lease_until = ?, details = '', blocks = 0, bytes = 0
			WHERE id IN (`+placeholders(len(ids))+`)
			RETURNING `+pinColumns, args...)
		if err != nil {
			return err
		}
		if pins, err = scanPins(rows); err != nil {
			return err
		}
		// RETURNING gives no order: put them back in claim order.
		order := map[string]int{}
		for i, id := range ids {
			order[id] = i
		}
		slices.SortFunc(pins, func(a, b *tack.PinRequest) int { return order[a.ID] - order[b.ID] })
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim pins: %w", err)
	}
	return pins, nil
}

// retryHeld, as a request's retry_at, holds a queued request of a blocked
// account: neither ready (0) nor waiting for a time (> 0).
const retryHeld = "-1"

// claimable runs query, with args, for candidate claims: rows of id, turn
// and whether the account is blocked. It holds the requests of blocked
// accounts, which takes them out of the query's index, and asks again, a
// few times at most. It returns the claimable ids and the last one's turn.
func claimable(ctx context.Context, tx *txn, query string, args ...any) (ids []string, lastTurn int64, err error) {
	for range 4 {
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return nil, 0, err
		}
		var held []string
		ids = ids[:0]
		for rows.Next() {
			var id string
			var turn int64
			var blocked bool
			if err := rows.Scan(&id, &turn, &blocked); err != nil {
				rows.Close()
				return nil, 0, err
			}
			if blocked {
				held = append(held, id)
				continue
			}
			ids, lastTurn = append(ids, id), turn
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, 0, err
		}
		for _, id := range held {
			if err := hold(ctx, tx, id); err != nil {
				return nil, 0, err
			}
		}
		if len(held) == 0 {
			break
		}
	}
	return ids, lastTurn, nil
}

// hold puts a request of a blocked account back in the queue, held.
func hold(ctx context.Context, tx *txn, id string) error {
	_, err := tx.ExecContext(ctx, `
		UPDATE pins SET status = 'queued', retry_at = `+retryHeld+`, lease_owner = '', lease_until = 0, blocks = 0, bytes = 0
		WHERE id = ?`, id)
	return err
}

// maxReadyRetries is how many waiting requests one claim makes ready, so
// that a claim costs the same however many retries fall due at once.
const maxReadyRetries = 1000

// takeTurns gives the account its next n turns and returns the first.
// An account's turns follow each other, but never start before the
// queue's virtual time, so an account that was idle gets no credit for
// it: the first is max(last_turn + 1, vtime + 1). createPin applies the
// same rule to the row it has read already, on the API's hot path.
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
	rows, err := tx.QueryContext(ctx, `
		SELECT p.id, p.account_id, a.blocked FROM pins p INDEXED BY pins_retry_idx JOIN accounts a ON a.id = p.account_id
		WHERE p.status = 'queued' AND p.retry_at > 0 AND p.retry_at <= ?
		ORDER BY p.retry_at LIMIT ?`, now, maxReadyRetries)
	if err != nil {
		return err
	}
	type due struct {
		id        string
		accountID int64
		blocked   bool
	}
	var dues []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.id, &d.accountID, &d.blocked); err != nil {
			rows.Close()
			return err
		}
		dues = append(dues, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, d := range dues {
		if d.blocked {
			if err := hold(ctx, tx, d.id); err != nil {
				return err
			}
			continue
		}
		turn, err := takeTurns(ctx, tx, d.accountID, 1)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE pins SET retry_at = 0, turn = ? WHERE id = ?`, turn, d.id); err != nil {
			return err
		}
	}
	return nil
}

// QueuePositions sets Position on the ready queued requests among reqs,
// from their Turn and Created. It walks them in queue order and counts,
// in one read transaction, the ready requests between each and the next,
// but never more than tack.MaxCountedPosition in all: past that, the rest
// are PositionOver, with OwnAhead estimated from their account's turns.
func (db *DB) QueuePositions(ctx context.Context, reqs []*tack.PinRequest) error {
	type queued struct {
		r   *tack.PinRequest
		key queueKey
	}
	var qs []queued
	for _, r := range reqs {
		// Where the caller read it: a request claimed or deleted since
		// counts from where it was.
		if r.Status == tack.StatusQueued && r.RetryAt.IsZero() && !r.Held {
			qs = append(qs, queued{r, queueKey{r.Turn, micros(r.Created), r.ID}})
		}
	}
	if len(qs) == 0 {
		return nil
	}
	slices.SortFunc(qs, func(a, b queued) int { return a.key.compare(b.key) })
	err := db.read(ctx, func(tx *txn) error {
		horizon, err := db.horizon(ctx, tx)
		if err != nil {
			return err
		}
		// Each stretch starts at the previous request, which counts as
		// ahead of the next; the first starts before every request. A
		// request past the horizon is not counted at all.
		pos, from := int64(1), queueKey{turn: -1 << 62}
		heads := map[int64]int64{}
		for _, q := range qs {
			if horizon != nil && horizon.compare(q.key) < 0 {
				pos = tack.MaxCountedPosition + 1
			}
			if pos <= tack.MaxCountedPosition {
				var n int64
				err := tx.QueryRowContext(ctx, `
					SELECT count(*) FROM (
						SELECT 1 FROM pins INDEXED BY pins_ready_idx
						WHERE status = 'queued' AND retry_at = 0
						AND (turn, created, id) >= (?, ?, ?) AND (turn, created, id) < (?, ?, ?)
						LIMIT ?)`,
					from.turn, from.created, from.id, q.key.turn, q.key.created, q.key.id, tack.MaxCountedPosition+1).Scan(&n)
				if err != nil {
					return err
				}
				pos += n
				from = q.key
			}
			if pos <= tack.MaxCountedPosition {
				q.r.Position, q.r.PositionOver = pos, false
				continue
			}
			head, ok := heads[q.r.AccountID]
			if !ok {
				if err := tx.QueryRowContext(ctx, `
					SELECT coalesce(min(turn), 0) FROM pins
					WHERE account_id = ? AND status = 'queued' AND retry_at = 0`, q.r.AccountID).Scan(&head); err != nil {
					return err
				}
				heads[q.r.AccountID] = head
			}
			q.r.Position, q.r.PositionOver, q.r.OwnAhead = tack.MaxCountedPosition+1, true, max(q.key.turn-head, 0)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("queue positions: %w", err)
	}
	return nil
}

// horizonTTL is how long a queue horizon is used before it is looked up
// again.
const horizonTTL = time.Second

// queueKey is a ready request's place in the queue: claims take ready
// requests in (turn, created, id) order, as pins_ready_idx holds them.
type queueKey struct {
	turn, created int64
	id            string
}

// compare orders queue keys as claims take them.
func (k queueKey) compare(o queueKey) int {
	return cmp.Or(cmp.Compare(k.turn, o.turn), cmp.Compare(k.created, o.created), strings.Compare(k.id, o.id))
}

// horizon returns the key of the ready request with tack.MaxCountedPosition
// requests ahead of it, or nil if the queue is shorter. Every request
// after it is past the counted positions. It is looked up at most once a
// horizonTTL: under a stream of POST /pins to a long queue, each new
// request is then known to be past the count without counting, at the
// price of positions near the horizon that are up to a second old.
func (db *DB) horizon(ctx context.Context, tx *txn) (*queueKey, error) {
	db.mu.Lock()
	h, at := db.horizonKey, db.horizonAt
	db.mu.Unlock()
	if time.Since(at) < horizonTTL {
		return h, nil
	}
	var k queueKey
	err := tx.QueryRowContext(ctx, `
		SELECT turn, created, id FROM pins INDEXED BY pins_ready_idx
		WHERE status = 'queued' AND retry_at = 0
		ORDER BY turn, created, id LIMIT 1 OFFSET ?`, tack.MaxCountedPosition).Scan(&k.turn, &k.created, &k.id)
	h = &k
	if errors.Is(err, sql.ErrNoRows) {
		h = nil
	} else if err != nil {
		return nil, err
	}
	db.mu.Lock()
	db.horizonKey, db.horizonAt = h, time.Now()
	db.mu.Unlock()
	return h, nil
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
		rows, err := tx.QueryContext(ctx, `
			UPDATE pins SET lease_until = ?, blocks = ?, bytes = ?, progress_at = max(progress_at, ?)
			WHERE status = 'pinning' AND lease_owner = ? AND id IN (`+placeholders(len(ids))+`)
			RETURNING id`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			held = append(held, id)
		}
		return rows.Err()
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

// CompleteDAG records that the DAG is stored whole and marks every queued
// or pinning request for it pinned, with its size, no details and no
// lease; the requests of accounts that the DAG would take over their
// MaxBytes fail instead.
func (db *DB) CompleteDAG(ctx context.Context, d *tack.DAG) error {
	if d.Key == "" {
		return tack.Errorf(tack.EINVALID, "dag has no content key")
	}
	err := db.write(ctx, func(ctx context.Context, tx *txn) error {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO dags (key, blocks, bytes) VALUES (?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET blocks = excluded.blocks, bytes = excluded.bytes`,
			d.Key, d.Blocks, d.Bytes); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `
			SELECT DISTINCT account_id FROM pins WHERE key = ? AND status IN ('queued', 'pinning')`, d.Key)
		if err != nil {
			return err
		}
		var accounts []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			accounts = append(accounts, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range accounts {
			if reason, err := db.overQuota(ctx, tx, id, d.Key, d.Bytes); err != nil {
				return err
			} else if reason != "" {
				if _, err := tx.ExecContext(ctx, `
					UPDATE pins SET status = 'failed', details = ?, lease_owner = '', lease_until = 0, retry_at = 0
					WHERE key = ? AND account_id = ? AND status IN ('queued', 'pinning')`,
					reason, d.Key, id); err != nil {
					return err
				}
			}
		}
		_, err = tx.ExecContext(ctx, `
			UPDATE pins
			SET status = 'pinned', blocks = ?, bytes = ?, details = '', lease_owner = '', lease_until = 0, retry_at = 0
			WHERE key = ? AND status IN ('queued', 'pinning')`,
			d.Blocks, d.Bytes, d.Key)
		return err
	})
	if err != nil {
		return fmt.Errorf("complete dag: %w", err)
	}
	return nil
}

// overQuota returns why the account may not hold the DAG key of the given
// size (it would go over its MaxBytes, with what its incomplete uploads
// keep for other DAGs), or "" if it may: it holds the DAG already, or it
// has room.
func (db *DB) overQuota(ctx context.Context, tx *txn, accountID int64, key string, size int64) (string, error) {
	var stored int64
	var maxBytes sql.NullInt64
	var held bool
	err := tx.QueryRowContext(ctx, `
		SELECT stored_bytes + kept_bytes - (SELECT coalesce(sum(size), 0) FROM upload_keeps
		           WHERE key = ?1 AND account_id = accounts.id),
		       max_bytes,
		       EXISTS (SELECT 1 FROM account_dags WHERE account_id = accounts.id AND key = ?1)
		FROM accounts WHERE id = ?2`, key, accountID).Scan(&stored, &maxBytes, &held)
	if err != nil {
		return "", fmt.Errorf("account %d: %w", accountID, err)
	}
	limit := db.Limits.MaxBytes
	if maxBytes.Valid {
		limit = maxBytes.Int64
	}
	if limit <= 0 || held || stored+size <= limit {
		return "", nil
	}
	return fmt.Sprintf("over the account's storage limit: the DAG is %d bytes, the account holds %d of its %d bytes (ask the operator for a higher limit, or delete pins)",
		size, stored, limit), nil
}

// FindDAG returns ENOTFOUND unless CompleteDAG recorded the key.
func (db *DB) FindDAG(ctx context.Context, key string) (*tack.DAG, error) {
	d := tack.DAG{Key: key}
	err := db.pool().QueryRowContext(ctx, `SELECT blocks, bytes FROM dags WHERE key = ?`, key).Scan(&d.Blocks, &d.Bytes)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, tack.Errorf(tack.ENOTFOUND, "dag not found")
	} else if err != nil {
		return nil, fmt.Errorf("find dag: %w", err)
	}
	return &d, nil
}
