package sqlite

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/tack-ipfs/tack"
)

// KeepUpload records blocks stored toward the DAG key, now.
func (db *DB) KeepUpload(ctx context.Context, key string, hashes []uint64) error {
	now := db.now()
	for len(hashes) > 0 {
		n := min(len(hashes), keepsPage)
		args := make([]any, 0, 3*n)
		for _, h := range hashes[:n] {
			args = append(args, key, int64(h), now)
		}
		err := db.write(ctx, func(ctx context.Context, tx *txn) error {
			_, err := tx.Tx.ExecContext(ctx, `INSERT INTO upload_keeps (key, hash, added) VALUES `+
				strings.TrimSuffix(strings.Repeat("(?, ?, ?), ", n), ", ")+`
				ON CONFLICT (key, hash) DO UPDATE SET added = excluded.added`, args...)
			return err
		})
		if err != nil {
			return fmt.Errorf("keep upload: %w", err)
		}
		hashes = hashes[n:]
	}
	return nil
}

// FindKeptUploads returns every key with kept blocks, by key.
func (db *DB) FindKeptUploads(ctx context.Context) ([]tack.KeptUpload, error) {
	rows, err := db.pool().QueryContext(ctx, `SELECT key, max(added) FROM upload_keeps GROUP BY key ORDER BY key`)
	if err != nil {
		return nil, fmt.Errorf("find kept uploads: %w", err)
	}
	defer rows.Close()
	var out []tack.KeptUpload
	for rows.Next() {
		var k tack.KeptUpload
		var added int64
		if err := rows.Scan(&k.Key, &added); err != nil {
			return nil, fmt.Errorf("find kept uploads: %w", err)
		}
		k.Added = timeOf(added)
		out = append(out, k)
	}
	return out, rows.Err()
}

// KeptUploadHashes calls fn with the blocks kept for key, a page at a
// time.
func (db *DB) KeptUploadHashes(ctx context.Context, key string, fn func(hashes []uint64) error) error {
	after := int64(math.MinInt64)
	first := true
	for {
		rows, err := db.pool().QueryContext(ctx, `
			SELECT hash FROM upload_keeps WHERE key = ? AND (? OR hash > ?) ORDER BY hash LIMIT ?`,
			key, first, after, keepsPage)
		if err != nil {
			return fmt.Errorf("kept upload hashes: %w", err)
		}
		hashes := make([]uint64, 0, keepsPage)
		for rows.Next() {
			var h int64
			if err := rows.Scan(&h); err != nil {
				rows.Close()
				return fmt.Errorf("kept upload hashes: %w", err)
			}
			hashes = append(hashes, uint64(h))
			after = h
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("kept upload hashes: %w", err)
		}
		if len(hashes) == 0 {
			return nil
		}
		first = false
		if err := fn(hashes); err != nil {
			return err
		}
		if len(hashes) < keepsPage {
			return nil
		}
	}
}

// ForgetKeptUpload forgets the blocks kept for key added before before.
func (db *DB) ForgetKeptUpload(ctx context.Context, key string, before time.Time) error {
	err := db.write(ctx, func(ctx context.Context, tx *txn) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM upload_keeps WHERE key = ? AND added < ?`, key, micros(before))
		return err
	})
	if err != nil {
		return fmt.Errorf("forget kept upload: %w", err)
	}
	return nil
}
