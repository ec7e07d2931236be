package sqlite

import (
	"context"
	"fmt"

	"github.com/tack-ipfs/tack"
)

// EnsureSecret stores value under name unless a secret of that name
// exists, and returns the stored secret. Returns EINVALID for an empty
// name or value.
func (db *DB) EnsureSecret(ctx context.Context, name string, value []byte) ([]byte, error) {
	if err := tack.CheckSecret(name, value); err != nil {
		return nil, err
	}
	var stored []byte
	err := db.write(ctx, func(ctx context.Context, tx *txn) error {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO secrets (name, value, created) VALUES (?, ?, ?)
			ON CONFLICT (name) DO NOTHING`, name, value, db.now()); err != nil {
			return fmt.Errorf("insert secret: %w", err)
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&stored)
	})
	if err != nil {
		return nil, fmt.Errorf("ensure secret %s: %w", name, err)
	}
	return stored, nil
}
