package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tack-ipfs/tack/blockstore"
	"github.com/tack-ipfs/tack/internal/sqlrow"
)

var _ blockstore.PackIndex = (*DB)(nil)

// packRows is how many entries one INSERT of AddPack carries.
const packRows = 200

// AddPack records a pack and its entries in one transaction (see
// blockstore.PackIndex).
func (db *DB) AddPack(ctx context.Context, p blockstore.Pack, entries []blockstore.PackMove) error {
	err := db.write(ctx, func(ctx context.Context, tx *txn) error {
		var id int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO packs (name, size, created) VALUES (?, ?, ?) RETURNING id`,
			p.Name, p.Size, db.now()).Scan(&id); err != nil {
			return err
		}
		var seq int64
		if err := tx.QueryRowContext(ctx, `UPDATE pack_seq SET seq = seq + 1 WHERE id = 1 RETURNING seq`).Scan(&seq); err != nil {
			return err
		}
		var fresh []blockstore.PackMove
		for _, e := range entries {
			if e.From == "" {
				fresh = append(fresh, e)
				continue
			}
			if _, err := tx.ExecContext(ctx, `
				UPDATE pack_blocks SET pack = ?, off = ?, len = ?
				WHERE hash = ? AND pack = (SELECT id FROM packs WHERE name = ?)`,
				id, e.Offset, e.Length, e.Hash, e.From); err != nil {
				return err
			}
		}
		// In key order, each insert lands next to the one before in the
		// B-tree.
		slices.SortFunc(fresh, func(a, b blockstore.PackMove) int { return bytes.Compare(a.Hash, b.Hash) })
		for len(fresh) > 0 {
			n := min(len(fresh), packRows)
			args := make([]any, 0, 5*n)
			for _, e := range fresh[:n] {
				args = append(args, e.Hash, id, e.Offset, e.Length, seq)
			}
			if _, err := tx.ExecContext(ctx, `
				INSERT INTO pack_blocks (hash, pack, off, len, seq) VALUES `+strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?), ", n), ", ")+`
				ON CONFLICT (hash) DO UPDATE SET pack = excluded.pack, off = excluded.off, len = excluded.len, seq = excluded.seq`,
				args...); err != nil {
				return err
			}
			fresh = fresh[n:]
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("add pack %s: %w", p.Name, err)
	}
	return nil
}

// Lookup returns where a block is, or blockstore.ErrNoBlock.
func (db *DB) Lookup(ctx context.Context, h []byte) (blockstore.PackEntry, error) {
	e := blockstore.PackEntry{Hash: h}
	err := db.pool().QueryRowContext(ctx, `
		SELECT p.name, b.off, b.len FROM pack_blocks b JOIN packs p ON p.id = b.pack WHERE b.hash = ?`, h).
		Scan(&e.Pack, &e.Offset, &e.Length)
	if errors.Is(err, sql.ErrNoRows) {
		return e, blockstore.ErrNoBlock
	} else if err != nil {
		return e, fmt.Errorf("lookup block: %w", err)
	}
	return e, nil
}

// DeleteBlocks removes the entries of the multihashes hs.
func (db *DB) DeleteBlocks(ctx context.Context, hs [][]byte) error {
	if len(hs) == 0 {
		return nil
	}
	err := db.write(ctx, func(ctx context.Context, tx *txn) error {
		for len(hs) > 0 {
			n := min(len(hs), 500)
			args := make([]any, n)
			for i, h := range hs[:n] {
				args[i] = h
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM pack_blocks WHERE hash IN (`+placeholders(n)+`)`, args...); err != nil {
				return err
			}
			hs = hs[n:]
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete blocks: %w", err)
	}
	return nil
}

// Blocks returns up to limit entries in multihash order after after.
func (db *DB) Blocks(ctx context.Context, after []byte, limit int) ([]blockstore.PackEntry, error) {
	var es []blockstore.PackEntry
	var err error
	if len(after) == 0 {
		es, err = queryAll(ctx, db.pool(), sqlrow.ScanPackEntry, `
			SELECT `+sqlrow.PackEntryColumns+` FROM `+sqlrow.PackEntryFrom+`
			ORDER BY b.hash LIMIT ?`, limit)
	} else {
		es, err = queryAll(ctx, db.pool(), sqlrow.ScanPackEntry, `
			SELECT `+sqlrow.PackEntryColumns+` FROM `+sqlrow.PackEntryFrom+`
			WHERE b.hash > ? ORDER BY b.hash LIMIT ?`, after, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("list blocks: %w", err)
	}
	return es, nil
}

// PackBlocks returns the entries that point into the pack name.
func (db *DB) PackBlocks(ctx context.Context, name string) ([]blockstore.PackEntry, error) {
	es, err := queryAll(ctx, db.pool(), sqlrow.ScanPackEntry, `
		SELECT `+sqlrow.PackEntryColumns+` FROM `+sqlrow.PackEntryFrom+`
		WHERE p.name = ? ORDER BY b.off`, name)
	if err != nil {
		return nil, fmt.Errorf("list pack blocks: %w", err)
	}
	return es, nil
}

// Packs returns every pack with its live blocks and bytes.
func (db *DB) Packs(ctx context.Context) ([]blockstore.PackUsage, error) {
	us, err := queryAll(ctx, db.pool(), sqlrow.ScanPackUsage, `
		SELECT p.name, p.size, count(b.hash), coalesce(sum(b.len), 0)
		FROM packs p LEFT JOIN pack_blocks b ON b.pack = p.id
		GROUP BY p.id ORDER BY p.name`)
	if err != nil {
		return nil, fmt.Errorf("list packs: %w", err)
	}
	return us, nil
}

// DeletePack forgets the pack name if no entry points into it.
func (db *DB) DeletePack(ctx context.Context, name string) (bool, error) {
	gone := false
	err := db.write(ctx, func(ctx context.Context, tx *txn) error {
		if _, err := tx.ExecContext(ctx, `
			DELETE FROM packs WHERE name = ? AND NOT EXISTS (SELECT 1 FROM pack_blocks WHERE pack = packs.id)`, name); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM packs WHERE name = ?`, name).Scan(&n); err != nil {
			return err
		}
		gone = n == 0
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("delete pack %s: %w", name, err)
	}
	return gone, nil
}

// Seq returns the position of the last AddPack or Touch.
func (db *DB) Seq(ctx context.Context) (int64, error) {
	var seq int64
	if err := db.pool().QueryRowContext(ctx, `SELECT seq FROM pack_seq WHERE id = 1`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("pack index position: %w", err)
	}
	return seq, nil
}

// Touch moves the entries of hs to a new position and returns the
// multihashes among hs that have none. SQLite's one writer makes it
// atomic against DeleteUnchanged.
func (db *DB) Touch(ctx context.Context, hs [][]byte) ([][]byte, error) {
	var missing [][]byte
	err := db.write(ctx, func(ctx context.Context, tx *txn) error {
		missing = missing[:0]
		var seq int64
		if err := tx.QueryRowContext(ctx, `UPDATE pack_seq SET seq = seq + 1 WHERE id = 1 RETURNING seq`).Scan(&seq); err != nil {
			return err
		}
		for _, h := range hs {
			res, err := tx.ExecContext(ctx, `UPDATE pack_blocks SET seq = ? WHERE hash = ?`, seq, h)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				missing = append(missing, h)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("touch blocks: %w", err)
	}
	return missing, nil
}

// DeleteUnchanged removes the entries of hs at or before position seq.
func (db *DB) DeleteUnchanged(ctx context.Context, hs [][]byte, seq int64) (int, int64, error) {
	var n int
	var size int64
	err := db.write(ctx, func(ctx context.Context, tx *txn) error {
		n, size = 0, 0
		for _, h := range hs {
			var l int64
			err := tx.QueryRowContext(ctx, `DELETE FROM pack_blocks WHERE hash = ? AND seq <= ? RETURNING len`, h, seq).Scan(&l)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			} else if err != nil {
				return err
			}
			n++
			size += l
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("delete blocks: %w", err)
	}
	return n, size, nil
}
