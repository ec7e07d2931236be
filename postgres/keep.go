package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/tack-ipfs/tack"
)

// keepsPage is how many kept hashes are written or read per statement.
const keepsPage = 10000

// KeepUpload records blocks stored toward the DAG key, now.
func (db *DB) KeepUpload(ctx context.Context, key string, hashes []uint64) error {
	now := db.now()
	for len(hashes) > 0 {
		n := min(len(hashes), keepsPage)
		hs := make([]int64, n)
		for i, h := range hashes[:n] {
			hs[i] = int64(h)
		}
		if _, err := db.pool.Exec(ctx, `
			INSERT INTO upload_keeps (key, hash, added) SELECT $1, h, $2 FROM unnest($3::bigint[]) AS h
			ON CONFLICT (key, hash) DO UPDATE SET added = excluded.added`, key, now, hs); err != nil {
			return fmt.Errorf("keep upload: %w", err)
		}
		hashes = hashes[n:]
	}
	return nil
}

// FindKeptUploads returns every key with kept blocks, by key.
func (db *DB) FindKeptUploads(ctx context.Context) ([]tack.KeptUpload, error) {
	rows, err := db.pool.Query(ctx, `SELECT key, max(added) FROM upload_keeps GROUP BY key ORDER BY key`)
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
	var after *int64
	for {
		rows, err := db.pool.Query(ctx, `
			SELECT hash FROM upload_keeps WHERE key = $1 AND ($2::bigint IS NULL OR hash > $2)
			ORDER BY hash LIMIT $3`, key, after, keepsPage)
		if err != nil {
			return fmt.Errorf("kept upload hashes: %w", err)
		}
		var hashes []uint64
		var last int64
		for rows.Next() {
			if err := rows.Scan(&last); err != nil {
				rows.Close()
				return fmt.Errorf("kept upload hashes: %w", err)
			}
			hashes = append(hashes, uint64(last))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("kept upload hashes: %w", err)
		}
		if len(hashes) == 0 {
			return nil
		}
		after = &last
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
	if _, err := db.pool.Exec(ctx, `DELETE FROM upload_keeps WHERE key = $1 AND added < $2`, key, micros(before)); err != nil {
		return fmt.Errorf("forget kept upload: %w", err)
	}
	return nil
}
