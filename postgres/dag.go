package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/internal/sqlrow"
)

// ListDAGs returns up to limit recorded DAGs in key order after after.
func (db *DB) ListDAGs(ctx context.Context, after string, limit int) ([]*tack.DAG, error) {
	dags, err := queryAll(ctx, db.pool, sqlrow.ScanDAG, `
		SELECT key, blocks, bytes FROM dags WHERE key > $1 ORDER BY key LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list dags: %w", err)
	}
	return dags, nil
}

// forgetPage is how many DAG records ForgetDAGs checks in one
// transaction.
const forgetPage = 1000

// ForgetDAGs deletes the records of DAGs no live request refers to, a
// page of keys at a time. Each page is checked and deleted under the
// locks of its keys, which CreatePin takes too: a request created
// meanwhile either is seen here and keeps its DAG, or sees the record
// gone and is queued.
func (db *DB) ForgetDAGs(ctx context.Context) (int, error) {
	return tack.ForgetPages(ctx, forgetPage, func(ctx context.Context, after string, limit int) ([]string, error) {
		rows, err := db.pool.Query(ctx, `SELECT key FROM dags WHERE key > $1 ORDER BY key LIMIT $2`, after, limit)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, pgx.RowTo[string])
	}, func(ctx context.Context, keys []string) (int, error) {
		var n int64
		err := db.write(ctx, func(tx pgx.Tx) error {
			if err := lockKeys(ctx, tx, keys...); err != nil {
				return err
			}
			tag, err := tx.Exec(ctx, `
				DELETE FROM dags WHERE key = ANY($1)
				AND NOT EXISTS (SELECT 1 FROM pins WHERE pins.key = dags.key AND pins.status IN ('queued', 'pinning', 'pinned'))`,
				keys)
			n = tag.RowsAffected()
			return err
		})
		if err != nil {
			return 0, err
		}
		return int(n), nil
	})
}

// WantedKeys merges the keys of queued and pinning requests with the keys
// they replaced. Each query returns its first limit keys after after, so
// the merge, cut at limit, is complete up to its last key.
func (db *DB) WantedKeys(ctx context.Context, after string, limit int) ([]string, error) {
	var own, prev []string
	err := db.read(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			SELECT DISTINCT key FROM pins
			WHERE key > $1 AND status IN ('queued', 'pinning') ORDER BY key LIMIT $2`, after, limit)
		if err != nil {
			return err
		}
		if own, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `
			SELECT DISTINCT prev_key FROM pins
			WHERE prev_key > $1 AND prev_key <> '' AND status IN ('queued', 'pinning') ORDER BY prev_key LIMIT $2`, after, limit)
		if err != nil {
			return err
		}
		prev, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("wanted keys: %w", err)
	}
	return tack.MergeKeys(limit, own, prev), nil
}

// RequeueDAG forgets the DAG and queues its pinned requests again, each
// at the back of its account's turns (held, for a blocked account), under
// the key's lock and the accounts' row locks.
func (db *DB) RequeueDAG(ctx context.Context, key, reason string) (int, error) {
	requeued := 0
	err := db.write(ctx, func(tx pgx.Tx) error {
		requeued = 0
		if err := lockKeys(ctx, tx, key); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM dags WHERE key = $1`, key); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			SELECT 1 FROM accounts
			WHERE id IN (SELECT account_id FROM pins WHERE key = $1 AND status = 'pinned')
			ORDER BY id FOR UPDATE`, key); err != nil {
			return err
		}
		ps, err := queryAll(ctx, tx, sqlrow.ScanQueuedPin, `
			SELECT `+sqlrow.QueuedPinColumns+` FROM pins p JOIN accounts a ON a.id = p.account_id
			WHERE p.key = $1 AND p.status = 'pinned' ORDER BY p.created`, key)
		if err != nil {
			return err
		}
		now := db.now()
		for _, p := range ps {
			turn, retry, err := tack.Requeue(ctx, queueTx{tx}, p)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `
				UPDATE pins SET status = 'queued', details = $1, blocks = 0, bytes = 0, turn = $2, retry_at = $3,
				                attempts = 0, progress_at = $4, lease_owner = '', lease_until = 0
				WHERE id = $5`, reason, turn, retry, now, p.ID); err != nil {
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

// CompleteDAG records that the DAG is stored whole and settles the
// requests waiting on it (tack.Complete): the requests of accounts that
// the DAG would take over their MaxBytes fail; the others are pinned. It
// holds the key's lock, so that a request created at the same moment is
// either pinned here or sees the record; and the accounts' rows, so that
// two DAGs completed at once cannot both pass an account's storage limit.
func (db *DB) CompleteDAG(ctx context.Context, d *tack.DAG) error {
	if err := tack.CheckDAG(d); err != nil {
		return err
	}
	err := db.write(ctx, func(tx pgx.Tx) error {
		if err := lockKeys(ctx, tx, d.Key); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO dags (key, blocks, bytes) VALUES ($1, $2, $3)
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
	tx pgx.Tx
}

// Waiting returns the accounts with queued or pinning requests for key,
// locking their rows in ID order.
func (c dagTx) Waiting(ctx context.Context, key string) ([]int64, error) {
	rows, err := c.tx.Query(ctx, `
		SELECT id FROM accounts
		WHERE id IN (SELECT account_id FROM pins WHERE key = $1 AND status IN ('queued', 'pinning'))
		ORDER BY id FOR UPDATE`, key)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// FailWaiting fails the account's queued or pinning requests for key.
func (c dagTx) FailWaiting(ctx context.Context, key string, accountID int64, reason string) error {
	_, err := c.tx.Exec(ctx, `
		UPDATE pins SET status = 'failed', details = $1, lease_owner = '', lease_until = 0, retry_at = 0
		WHERE key = $2 AND account_id = $3 AND status IN ('queued', 'pinning')`,
		reason, key, accountID)
	return err
}

// PinWaiting pins the queued or pinning requests for d's key.
func (c dagTx) PinWaiting(ctx context.Context, d *tack.DAG) error {
	_, err := c.tx.Exec(ctx, `
		UPDATE pins
		SET status = 'pinned', blocks = $1, bytes = $2, details = '', lease_owner = '', lease_until = 0, retry_at = 0
		WHERE key = $3 AND status IN ('queued', 'pinning')`,
		d.Blocks, d.Bytes, d.Key)
	return err
}

// OverQuota returns why the account may not hold the DAG key of the
// given size (tack.CheckStorage's EQUOTA: it would go over its MaxBytes,
// with what its incomplete uploads keep for other DAGs), or nil if it may.
// The caller holds the account's row lock.
func (c dagTx) OverQuota(ctx context.Context, accountID int64, key string, size int64) error {
	var stored int64
	var maxBytes *int64
	var held bool
	err := c.tx.QueryRow(ctx, `
		SELECT stored_bytes + kept_bytes - (SELECT coalesce(sum(size), 0) FROM upload_keeps
		           WHERE key = $1 AND account_id = accounts.id),
		       max_bytes,
		       EXISTS (SELECT 1 FROM account_dags WHERE account_id = accounts.id AND key = $1)
		FROM accounts WHERE id = $2`, key, accountID).Scan(&stored, &maxBytes, &held)
	if err != nil {
		return fmt.Errorf("account %d: %w", accountID, err)
	}
	return tack.CheckStorage(size, stored, tack.Limit(maxBytes, c.db.Limits.MaxBytes), held)
}

// FindDAG returns ENOTFOUND unless CompleteDAG recorded the key.
func (db *DB) FindDAG(ctx context.Context, key string) (*tack.DAG, error) {
	d := tack.DAG{Key: key}
	err := db.pool.QueryRow(ctx, `SELECT blocks, bytes FROM dags WHERE key = $1`, key).Scan(&d.Blocks, &d.Bytes)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, tack.ErrNotFound("dag")
	} else if err != nil {
		return nil, fmt.Errorf("find dag: %w", err)
	}
	return &d, nil
}
