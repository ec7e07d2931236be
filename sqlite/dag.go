package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/internal/sqlrow"
)

// ListDAGs returns up to limit recorded DAGs in key order after after.
func (db *DB) ListDAGs(ctx context.Context, after string, limit int) ([]*tack.DAG, error) {
	dags, err := queryAll(ctx, db.pool(), sqlrow.ScanDAG, `
		SELECT key, blocks, bytes FROM dags WHERE key > ? ORDER BY key LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list dags: %w", err)
	}
	return dags, nil
}

// forgetPage is how many DAG records ForgetDAGs checks in one write
// transaction, so that the API's writes never wait long behind it.
const forgetPage = 1000

// ForgetDAGs deletes the records of DAGs no live request refers to, a
// page of keys at a time: each page is read, then checked and deleted in
// a write transaction, so a request created meanwhile keeps its DAG.
func (db *DB) ForgetDAGs(ctx context.Context) (int, error) {
	return tack.ForgetPages(ctx, forgetPage, func(ctx context.Context, after string, limit int) ([]string, error) {
		var keys []string
		err := db.read(ctx, func(tx *txn) error {
			var err error
			keys, err = queryAll(ctx, tx, scanValue[string], `SELECT key FROM dags WHERE key > ? ORDER BY key LIMIT ?`, after, limit)
			return err
		})
		return keys, err
	}, func(ctx context.Context, keys []string) (int, error) {
		forgotten := 0
		err := db.write(ctx, func(ctx context.Context, tx *txn) error {
			res, err := tx.ExecContext(ctx, `
				DELETE FROM dags WHERE key IN (`+placeholders(len(keys))+`)
				AND NOT EXISTS (SELECT 1 FROM pins WHERE pins.key = dags.key AND pins.status IN ('queued', 'pinning', 'pinned'))`,
				anys(keys)...)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			forgotten += int(n)
			return err
		})
		return forgotten, err
	})
}

// WantedKeys merges the keys of queued and pinning requests with the keys
// they replaced. Each query returns its first limit keys after after, so
// the merge, cut at limit, is complete up to its last key.
func (db *DB) WantedKeys(ctx context.Context, after string, limit int) ([]string, error) {
	var own, prev []string
	err := db.read(ctx, func(tx *txn) error {
		var err error
		own, err = queryAll(ctx, tx, scanValue[string], `
			SELECT DISTINCT key FROM pins INDEXED BY pins_key_idx
			WHERE key > ? AND status IN ('queued', 'pinning') ORDER BY key LIMIT ?`, after, limit)
		if err != nil {
			return err
		}
		prev, err = queryAll(ctx, tx, scanValue[string], `
			SELECT DISTINCT prev_key FROM pins INDEXED BY pins_prev_key_idx
			WHERE prev_key > ? AND prev_key <> '' AND status IN ('queued', 'pinning') ORDER BY prev_key LIMIT ?`, after, limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("wanted keys: %w", err)
	}
	return tack.MergeKeys(limit, own, prev), nil
}

// RequeueDAG forgets the DAG and queues its pinned requests again, each
// at the back of its account's turns (held, for a blocked account).
func (db *DB) RequeueDAG(ctx context.Context, key, reason string) (int, error) {
	requeued := 0
	err := db.write(ctx, func(ctx context.Context, tx *txn) error {
		requeued = 0
		if _, err := tx.ExecContext(ctx, `DELETE FROM dags WHERE key = ?`, key); err != nil {
			return err
		}
		ps, err := queryAll(ctx, tx, sqlrow.ScanQueuedPin, `
			SELECT `+sqlrow.QueuedPinColumns+` FROM pins p JOIN accounts a ON a.id = p.account_id
			WHERE p.key = ? AND p.status = 'pinned' ORDER BY p.created`, key)
		if err != nil {
			return err
		}
		now := db.now()
		for _, p := range ps {
			turn, retry, err := tack.Requeue(ctx, queueTx{tx}, p)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `
				UPDATE pins SET status = 'queued', details = ?, blocks = 0, bytes = 0, turn = ?, retry_at = ?,
				                attempts = 0, progress_at = ?, lease_owner = '', lease_until = 0
				WHERE id = ?`, reason, turn, retry, now, p.ID); err != nil {
				return err
			}
			requeued++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("requeue dag: %w", err)
	}
	return requeued, nil
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// CompleteDAG records that the DAG is stored whole and settles the
// requests waiting on it (tack.Complete): the requests of accounts that
// the DAG would take over their MaxBytes fail; the others are pinned.
func (db *DB) CompleteDAG(ctx context.Context, d *tack.DAG) error {
	if err := tack.CheckDAG(d); err != nil {
		return err
	}
	err := db.write(ctx, func(ctx context.Context, tx *txn) error {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO dags (key, blocks, bytes) VALUES (?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET blocks = excluded.blocks, bytes = excluded.bytes`,
			d.Key, d.Blocks, d.Bytes); err != nil {
			return err
		}
		return tack.Complete(ctx, dagTx{db, tx}, d)
	})
	if err != nil {
		return fmt.Errorf("complete dag: %w", err)
	}
	return nil
}

// dagTx is a write transaction as tack.Complete uses it.
type dagTx struct {
	db *DB
	tx *txn
}

// Waiting returns the accounts with queued or pinning requests for key.
func (c dagTx) Waiting(ctx context.Context, key string) ([]int64, error) {
	return queryAll(ctx, c.tx, scanValue[int64], `
		SELECT DISTINCT account_id FROM pins WHERE key = ? AND status IN ('queued', 'pinning')`, key)
}

// FailWaiting fails the account's queued or pinning requests for key.
func (c dagTx) FailWaiting(ctx context.Context, key string, accountID int64, reason string) error {
	_, err := c.tx.ExecContext(ctx, `
		UPDATE pins SET status = 'failed', details = ?, lease_owner = '', lease_until = 0, retry_at = 0
		WHERE key = ? AND account_id = ? AND status IN ('queued', 'pinning')`,
		reason, key, accountID)
	return err
}

// PinWaiting pins the queued or pinning requests for d's key.
func (c dagTx) PinWaiting(ctx context.Context, d *tack.DAG) error {
	_, err := c.tx.ExecContext(ctx, `
		UPDATE pins
		SET status = 'pinned', blocks = ?, bytes = ?, details = '', lease_owner = '', lease_until = 0, retry_at = 0
		WHERE key = ? AND status IN ('queued', 'pinning')`,
		d.Blocks, d.Bytes, d.Key)
	return err
}

// OverQuota returns why the account may not hold the DAG key of the
// given size (tack.CheckStorage's EQUOTA: it would go over its MaxBytes,
// with what its incomplete uploads keep for other DAGs), or nil if it may.
func (c dagTx) OverQuota(ctx context.Context, accountID int64, key string, size int64) error {
	var stored int64
	var maxBytes *int64
	var held bool
	err := c.tx.QueryRowContext(ctx, `
		SELECT stored_bytes + kept_bytes - (SELECT coalesce(sum(size), 0) FROM upload_keeps
		           WHERE key = ?1 AND account_id = accounts.id),
		       max_bytes,
		       EXISTS (SELECT 1 FROM account_dags WHERE account_id = accounts.id AND key = ?1)
		FROM accounts WHERE id = ?2`, key, accountID).Scan(&stored, &maxBytes, &held)
	if err != nil {
		return fmt.Errorf("account %d: %w", accountID, err)
	}
	return tack.CheckStorage(size, stored, tack.Limit(maxBytes, c.db.Limits.MaxBytes), held)
}

// FindDAG returns ENOTFOUND unless CompleteDAG recorded the key.
func (db *DB) FindDAG(ctx context.Context, key string) (*tack.DAG, error) {
	d := tack.DAG{Key: key}
	err := db.pool().QueryRowContext(ctx, `SELECT blocks, bytes FROM dags WHERE key = ?`, key).Scan(&d.Blocks, &d.Bytes)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, tack.ErrNotFound("dag")
	} else if err != nil {
		return nil, fmt.Errorf("find dag: %w", err)
	}
	return &d, nil
}
