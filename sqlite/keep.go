package sqlite

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/internal/sqlrow"
)

// KeepUpload records blocks that the account's upload stored toward the
// DAG key, now; a block kept already for the account and key only has its
// time renewed.
func (db *DB) KeepUpload(ctx context.Context, accountID int64, key string, blocks []tack.KeptBlock) error {
	now := db.now()
	for len(blocks) > 0 {
		n := min(len(blocks), keepsPage)
		args := make([]any, 0, 5*n)
		for _, b := range blocks[:n] {
			args = append(args, key, now, accountID, int64(b.Hash), b.Size)
		}
		q := "INSERT INTO upload_keeps (key, added, account_id, hash, size) VALUES " +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?), ", n), ", ") +
			" ON CONFLICT (key, account_id, hash) DO UPDATE SET added = excluded.added"
		err := db.write(ctx, func(ctx context.Context, tx *txn) error {
			_, err := tx.Tx.ExecContext(ctx, q, args...)
			return err
		})
		if err != nil {
			return fmt.Errorf("keep upload: %w", err)
		}
		blocks = blocks[n:]
	}
	return nil
}

// FindKeptUploads returns every key with kept blocks, by key.
func (db *DB) FindKeptUploads(ctx context.Context) ([]tack.KeptUpload, error) {
	out, err := queryAll(ctx, db.pool(), sqlrow.ScanKeptUpload, `SELECT `+sqlrow.KeptUploadColumns+` FROM upload_keeps GROUP BY key ORDER BY key`)
	if err != nil {
		return nil, fmt.Errorf("find kept uploads: %w", err)
	}
	return out, nil
}

// KeptUploadHashes calls fn with the blocks kept for key, a page at a
// time.
func (db *DB) KeptUploadHashes(ctx context.Context, key string, fn func(hashes []uint64) error) error {
	if err := db.readHashes(ctx, "upload_keeps", "hash", "key = ?", []any{key}, fn); err != nil {
		return fmt.Errorf("kept upload hashes: %w", err)
	}
	return nil
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

// keepsPage is how many 64-bit hashes one statement writes or reads.
const keepsPage = 500

// insertHashes inserts a row into table (its name and columns, the hash's
// last) for each hash, stored signed, after the values fixed, a page per
// statement ending with conflict.
func (db *DB) insertHashes(ctx context.Context, table string, fixed []any, hashes []uint64, conflict string) error {
	row := "(" + strings.Repeat("?, ", len(fixed)) + "?)"
	for len(hashes) > 0 {
		n := min(len(hashes), keepsPage)
		args := make([]any, 0, (len(fixed)+1)*n)
		for _, h := range hashes[:n] {
			args = append(append(args, fixed...), int64(h))
		}
		q := "INSERT INTO " + table + " VALUES " + strings.TrimSuffix(strings.Repeat(row+", ", n), ", ") + " " + conflict
		err := db.write(ctx, func(ctx context.Context, tx *txn) error {
			_, err := tx.Tx.ExecContext(ctx, q, args...)
			return err
		})
		if err != nil {
			return err
		}
		hashes = hashes[n:]
	}
	return nil
}

// readHashes calls fn with the 64-bit hashes in column col of the rows of
// table that where (with args) selects, a page at a time in the order of
// their signed values, until fn returns an error.
func (db *DB) readHashes(ctx context.Context, table, col, where string, args []any, fn func([]uint64) error) error {
	q := "SELECT " + col + " FROM " + table + " WHERE " + where + " AND (? OR " + col + " > ?) ORDER BY " + col + " LIMIT ?"
	after := int64(math.MinInt64)
	first := true
	for {
		rows, err := db.pool().QueryContext(ctx, q, append(args, first, after, keepsPage)...)
		if err != nil {
			return err
		}
		hashes := make([]uint64, 0, keepsPage)
		for rows.Next() {
			var h int64
			if err := rows.Scan(&h); err != nil {
				rows.Close()
				return err
			}
			hashes = append(hashes, uint64(h))
			after = h
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
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
