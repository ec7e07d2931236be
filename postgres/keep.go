package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/internal/sqlrow"
)

// KeepUpload records blocks that the account's upload stored toward the
// DAG key, now; a block kept already for the account and key only has its
// time renewed.
func (db *DB) KeepUpload(ctx context.Context, accountID int64, key string, blocks []tack.KeptBlock) error {
	const q = `INSERT INTO upload_keeps (key, added, account_id, hash, size)
		SELECT $1, $2, $3, h, s FROM unnest($4::bigint[], $5::bigint[]) AS u(h, s)
		ON CONFLICT (key, account_id, hash) DO UPDATE SET added = excluded.added`
	now := db.now()
	for len(blocks) > 0 {
		n := min(len(blocks), keepsPage)
		hs, sizes := make([]int64, n), make([]int64, n)
		for i, b := range blocks[:n] {
			hs[i], sizes[i] = int64(b.Hash), b.Size
		}
		if _, err := db.pool.Exec(ctx, q, key, now, accountID, hs, sizes); err != nil {
			return fmt.Errorf("keep upload: %w", err)
		}
		blocks = blocks[n:]
	}
	return nil
}

// FindKeptUploads returns every key with kept blocks, by key.
func (db *DB) FindKeptUploads(ctx context.Context) ([]tack.KeptUpload, error) {
	out, err := queryAll(ctx, db.pool, sqlrow.ScanKeptUpload, `SELECT `+sqlrow.KeptUploadColumns+` FROM upload_keeps GROUP BY key ORDER BY key`)
	if err != nil {
		return nil, fmt.Errorf("find kept uploads: %w", err)
	}
	return out, nil
}

// KeptUploadHashes calls fn with the blocks kept for key, a page at a
// time.
func (db *DB) KeptUploadHashes(ctx context.Context, key string, fn func(hashes []uint64) error) error {
	if err := db.readHashes(ctx, "upload_keeps", "hash", "key = $1", []any{key}, fn); err != nil {
		return fmt.Errorf("kept upload hashes: %w", err)
	}
	return nil
}

// ForgetKeptUpload forgets the blocks kept for key added before before.
func (db *DB) ForgetKeptUpload(ctx context.Context, key string, before time.Time) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM upload_keeps WHERE key = $1 AND added < $2`, key, micros(before)); err != nil {
		return fmt.Errorf("forget kept upload: %w", err)
	}
	return nil
}

// keepsPage is how many 64-bit hashes one statement writes or reads.
const keepsPage = 10000

// insertHashes inserts a row into table (its name and columns, the hash's
// last) for each hash, stored signed, after the values fixed, a page per
// statement ending with conflict.
func (db *DB) insertHashes(ctx context.Context, table string, fixed []any, hashes []uint64, conflict string) error {
	params := make([]string, len(fixed))
	for i := range fixed {
		params[i] = fmt.Sprintf("$%d, ", i+1)
	}
	q := "INSERT INTO " + table + " SELECT " + strings.Join(params, "") + "h FROM unnest($" + strconv.Itoa(len(fixed)+1) + "::bigint[]) AS h " + conflict
	for len(hashes) > 0 {
		n := min(len(hashes), keepsPage)
		hs := make([]int64, n)
		for i, h := range hashes[:n] {
			hs[i] = int64(h)
		}
		if _, err := db.pool.Exec(ctx, q, append(fixed, hs)...); err != nil {
			return err
		}
		hashes = hashes[n:]
	}
	return nil
}

// readHashes calls fn with the 64-bit hashes in column col of the rows of
// table that where (with args, $1…) selects, a page at a time in the order
// of their signed values, until fn returns an error.
func (db *DB) readHashes(ctx context.Context, table, col, where string, args []any, fn func([]uint64) error) error {
	n := len(args)
	q := fmt.Sprintf("SELECT %[1]s FROM %[2]s WHERE %[3]s AND ($%[4]d::bigint IS NULL OR %[1]s > $%[4]d) ORDER BY %[1]s LIMIT $%[5]d",
		col, table, where, n+1, n+2)
	var after *int64
	for {
		rows, err := db.pool.Query(ctx, q, append(args, after, keepsPage)...)
		if err != nil {
			return err
		}
		var hashes []uint64
		var last int64
		for rows.Next() {
			if err := rows.Scan(&last); err != nil {
				rows.Close()
				return err
			}
			hashes = append(hashes, uint64(last))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
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
