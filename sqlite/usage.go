package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/tack-ipfs/tack"
)

// FindUsage returns how many requests the account has in each status
// (every status present), the bytes of its distinct pinned DAGs and the
// bytes its incomplete uploads keep (accounts.kept_bytes, which triggers
// on upload_keeps keep), all read from one snapshot. An account without requests, or an unknown one,
// has all zeros.
func (db *DB) FindUsage(ctx context.Context, accountID int64) (*tack.Usage, error) {
	usages, err := db.findUsages(ctx, "account_id = ?", accountID)
	if err != nil {
		return nil, err
	}
	return usages.Of(accountID), nil
}

// FindUsages returns the usage of every account that has pin requests, by
// account ID, from counters: it costs one row per account and status.
func (db *DB) FindUsages(ctx context.Context) (map[int64]*tack.Usage, error) {
	return db.findUsages(ctx, "true")
}

// findUsages returns the usages of the accounts whose requests match the
// condition cond (with args): "true", or "account_id = ?". A DAG pinned by
// several requests of an account is counted once.
func (db *DB) findUsages(ctx context.Context, cond string, args ...any) (tack.Usages, error) {
	usages := tack.Usages{}
	err := db.read(ctx, func(tx *txn) error {
		// Both come from the counters that the triggers keep.
		rows, err := tx.QueryContext(ctx, `
			SELECT account_id, status, n FROM pin_counts
			WHERE n > 0 AND `+cond, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var status string
			var n int
			if err := rows.Scan(&id, &status, &n); err != nil {
				return err
			}
			usages.Of(id).Pins[tack.Status(status)] = n
		}
		if err := rows.Err(); err != nil {
			return err
		}

		rows, err = tx.QueryContext(ctx, `
			SELECT id, stored_bytes, kept_bytes FROM accounts
			WHERE (stored_bytes > 0 OR kept_bytes > 0) AND `+strings.ReplaceAll(cond, "account_id", "id"), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, bytes, kept int64
			if err := rows.Scan(&id, &bytes, &kept); err != nil {
				return err
			}
			usages.Of(id).Bytes, usages.Of(id).Kept = bytes, kept
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("find usage: %w", err)
	}
	return usages, nil
}
