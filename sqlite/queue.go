package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tack-ipfs/tack"
)

// ClaimPins hands up to n requests to the worker owner, oldest first:
// queued ones, and pinning ones whose lease ran out before now. They
// become pinning, leased to owner until until, with their progress reset.
// The claim is one statement in a write transaction, so no request goes to
// two owners.
func (db *DB) ClaimPins(ctx context.Context, owner string, n int, until time.Time) ([]*tack.PinRequest, error) {
	if owner == "" {
		return nil, tack.Errorf(tack.EINVALID, "lease owner is required")
	}
	if n <= 0 {
		return []*tack.PinRequest{}, nil
	}
	var pins []*tack.PinRequest
	err := db.write(ctx, func(tx *sql.Tx) error {
		// The queued and the expired requests are picked apart, so that
		// each walks its own index in order. PostgreSQL: add FOR UPDATE
		// SKIP LOCKED to both inner selects.
		rows, err := tx.QueryContext(ctx, `
			UPDATE pins
			SET status = 'pinning', lease_owner = ?, lease_until = ?, details = '', blocks = 0, bytes = 0
			WHERE id IN (
				SELECT id FROM (
					SELECT id, created FROM (
						SELECT id, created FROM pins
						WHERE status = 'queued'
						ORDER BY created, id LIMIT ?)
					UNION ALL
					SELECT id, created FROM (
						SELECT id, created FROM pins
						WHERE status = 'pinning' AND lease_until < ?
						ORDER BY created, id LIMIT ?))
				ORDER BY created, id
				LIMIT ?)
			RETURNING `+pinColumns,
			owner, micros(until), n, db.now(), n, n)
		if err != nil {
			return err
		}
		pins, err = scanPins(rows)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim pins: %w", err)
	}
	// RETURNING gives no order.
	slices.SortFunc(pins, func(a, b *tack.PinRequest) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return pins, nil
}

// QueuePositions sets Position on the queued requests among reqs. It
// counts, in one read transaction, the queued requests before the first of
// them and then those between each and the next, so that the index range
// it walks ends at the last of them, however many it is given.
func (db *DB) QueuePositions(ctx context.Context, reqs []*tack.PinRequest) error {
	var queued []*tack.PinRequest
	for _, r := range reqs {
		if r.Status == tack.StatusQueued {
			queued = append(queued, r)
		}
	}
	if len(queued) == 0 {
		return nil
	}
	slices.SortFunc(queued, func(a, b *tack.PinRequest) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	err := db.read(ctx, func(tx *sql.Tx) error {
		// Each stretch starts at the previous request, which counts if it
		// is still queued; the first starts before every request.
		pos, fromCreated, fromID := int64(1), int64(0), ""
		for _, r := range queued {
			var n int64
			err := tx.QueryRowContext(ctx, `
				SELECT count(*) FROM pins
				WHERE status = 'queued' AND (created, id) >= (?, ?) AND (created, id) < (?, ?)`,
				fromCreated, fromID, micros(r.Created), r.ID).Scan(&n)
			if err != nil {
				return err
			}
			pos += n
			r.Position = pos
			fromCreated, fromID = micros(r.Created), r.ID
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("queue positions: %w", err)
	}
	return nil
}

// RenewLeases extends owner's lease on the given pinning requests until
// until and records blocks and bytes as their progress. It returns the IDs
// that owner still holds: a deleted, finished or taken-over request is left
// out.
func (db *DB) RenewLeases(ctx context.Context, owner string, ids []string, until time.Time, blocks, bytes int64) ([]string, error) {
	held := []string{}
	if len(ids) == 0 {
		return held, nil
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		args := []any{micros(until), blocks, bytes, owner}
		for _, id := range ids {
			args = append(args, id)
		}
		rows, err := tx.QueryContext(ctx, `
			UPDATE pins SET lease_until = ?, blocks = ?, bytes = ?
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
		err := db.write(ctx, func(tx *sql.Tx) error {
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
	err := db.write(ctx, func(tx *sql.Tx) error {
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
// lease.
func (db *DB) CompleteDAG(ctx context.Context, d *tack.DAG) error {
	if d.Key == "" {
		return tack.Errorf(tack.EINVALID, "dag has no content key")
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO dags (key, blocks, bytes) VALUES (?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET blocks = excluded.blocks, bytes = excluded.bytes`,
			d.Key, d.Blocks, d.Bytes); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `
			UPDATE pins
			SET status = 'pinned', blocks = ?, bytes = ?, details = '', lease_owner = '', lease_until = 0
			WHERE key = ? AND status IN ('queued', 'pinning')`,
			d.Blocks, d.Bytes, d.Key)
		return err
	})
	if err != nil {
		return fmt.Errorf("complete dag: %w", err)
	}
	return nil
}

// FindDAG returns ENOTFOUND unless CompleteDAG recorded the key.
func (db *DB) FindDAG(ctx context.Context, key string) (*tack.DAG, error) {
	d := tack.DAG{Key: key}
	err := db.db.QueryRowContext(ctx, `SELECT blocks, bytes FROM dags WHERE key = ?`, key).Scan(&d.Blocks, &d.Bytes)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, tack.Errorf(tack.ENOTFOUND, "dag not found")
	} else if err != nil {
		return nil, fmt.Errorf("find dag: %w", err)
	}
	return &d, nil
}
