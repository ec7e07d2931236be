package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/internal/sqlrow"
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
		if _, err := queryAll(ctx, tx, sqlrow.ScanPinCount(usages), `
			SELECT `+sqlrow.PinCountColumns+` FROM pin_counts
			WHERE n > 0 AND `+cond, args...); err != nil {
			return err
		}
		_, err := queryAll(ctx, tx, sqlrow.ScanAccountBytes(usages), `
			SELECT `+sqlrow.AccountBytesColumns+` FROM accounts
			WHERE (stored_bytes > 0 OR kept_bytes > 0) AND `+strings.ReplaceAll(cond, "account_id", "id"), args...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find usage: %w", err)
	}
	return usages, nil
}
