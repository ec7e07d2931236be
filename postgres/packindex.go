package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/tack-ipfs/tack/blockstore"
	"github.com/tack-ipfs/tack/internal/sqlrow"
)

var _ blockstore.PackIndex = (*DB)(nil)

// AddPack records a pack and its entries in one transaction (see
// blockstore.PackIndex). Entries are written in multihash order, so that
// two packs holding the same blocks never wait for each other's rows.
func (db *DB) AddPack(ctx context.Context, p blockstore.Pack, entries []blockstore.PackMove) error {
	var fresh, moves []blockstore.PackMove
	for _, e := range entries {
		if e.From == "" {
			fresh = append(fresh, e)
		} else {
			moves = append(moves, e)
		}
	}
	byHash := func(a, b blockstore.PackMove) int { return bytes.Compare(a.Hash, b.Hash) }
	slices.SortFunc(fresh, byHash)
	slices.SortFunc(moves, byHash)
	columns := func(es []blockstore.PackMove) (hs [][]byte, offs, lens []int64, from []string) {
		for _, e := range es {
			hs = append(hs, e.Hash)
			offs = append(offs, e.Offset)
			lens = append(lens, e.Length)
			from = append(from, e.From)
		}
		return
	}
	err := db.write(ctx, func(tx pgx.Tx) error {
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO packs (name, size, created) VALUES ($1, $2, $3) RETURNING id`,
			p.Name, p.Size, db.now()).Scan(&id); err != nil {
			return err
		}
		if len(moves) > 0 {
			hs, offs, lens, from := columns(moves)
			if _, err := tx.Exec(ctx, `
				UPDATE pack_blocks b SET pack = $1, off = m.off, len = m.len
				FROM unnest($2::bytea[], $3::bigint[], $4::bigint[], $5::text[]) AS m(hash, off, len, from_name)
				JOIN packs f ON f.name = m.from_name
				WHERE b.hash = m.hash AND b.pack = f.id`, id, hs, offs, lens, from); err != nil {
				return err
			}
		}
		if len(fresh) > 0 {
			hs, offs, lens, _ := columns(fresh)
			if _, err := tx.Exec(ctx, `
				INSERT INTO pack_blocks (hash, pack, off, len, seq)
				SELECT hash, $1, off, len, nextval('pack_seq')
				FROM unnest($2::bytea[], $3::bigint[], $4::bigint[]) AS m(hash, off, len)
				ON CONFLICT (hash) DO UPDATE SET pack = excluded.pack, off = excluded.off, len = excluded.len, seq = excluded.seq`,
				id, hs, offs, lens); err != nil {
				return err
			}
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
	err := db.pool.QueryRow(ctx, `
		SELECT p.name, b.off, b.len FROM pack_blocks b JOIN packs p ON p.id = b.pack WHERE b.hash = $1`, h).
		Scan(&e.Pack, &e.Offset, &e.Length)
	if errors.Is(err, pgx.ErrNoRows) {
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
	if _, err := db.pool.Exec(ctx, `DELETE FROM pack_blocks WHERE hash = ANY($1::bytea[])`, hs); err != nil {
		return fmt.Errorf("delete blocks: %w", err)
	}
	return nil
}

// Blocks returns up to limit entries in multihash order after after.
func (db *DB) Blocks(ctx context.Context, after []byte, limit int) ([]blockstore.PackEntry, error) {
	// From the start, after the empty string (less than any multihash),
	// rather than "$1 IS NULL OR hash > $1", which a generic plan could
	// not answer with a range scan of the primary key.
	q := `SELECT ` + sqlrow.PackEntryColumns + ` FROM ` + sqlrow.PackEntryFrom + `
		WHERE b.hash > $1 ORDER BY b.hash LIMIT $2`
	if after == nil {
		after = []byte{}
	}
	es, err := queryAll(ctx, db.pool, sqlrow.ScanPackEntry, q, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list blocks: %w", err)
	}
	return es, nil
}

// PackBlocks returns the entries that point into the pack name.
func (db *DB) PackBlocks(ctx context.Context, name string) ([]blockstore.PackEntry, error) {
	es, err := queryAll(ctx, db.pool, sqlrow.ScanPackEntry, `
		SELECT `+sqlrow.PackEntryColumns+` FROM `+sqlrow.PackEntryFrom+`
		WHERE p.name = $1 ORDER BY b.off`, name)
	if err != nil {
		return nil, fmt.Errorf("list pack blocks: %w", err)
	}
	return es, nil
}

// Packs returns every pack with its live blocks and bytes.
func (db *DB) Packs(ctx context.Context) ([]blockstore.PackUsage, error) {
	us, err := queryAll(ctx, db.pool, sqlrow.ScanPackUsage, `
		SELECT p.name, p.size, count(b.hash), coalesce(sum(b.len), 0)::bigint
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
	err := db.write(ctx, func(tx pgx.Tx) error {
		// The pack's row is locked first: a move into it (never made, but
		// cheap to exclude) or a concurrent DeletePack waits.
		var id int64
		err := tx.QueryRow(ctx, `SELECT id FROM packs WHERE name = $1 FOR UPDATE`, name).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			gone = true
			return nil
		} else if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `
			DELETE FROM packs WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM pack_blocks WHERE pack = $1)`, id)
		gone = err == nil && tag.RowsAffected() == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("delete pack %s: %w", name, err)
	}
	return gone, nil
}

// Seq returns the last position handed out.
func (db *DB) Seq(ctx context.Context) (int64, error) {
	var seq int64
	if err := db.pool.QueryRow(ctx, `SELECT last_value FROM pack_seq`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("pack index position: %w", err)
	}
	return seq, nil
}

// Touch moves the entries of hs to new positions and returns the
// multihashes among hs that have none. Rows are locked in multihash
// order; against DeleteUnchanged, each row's lock decides which came
// first.
func (db *DB) Touch(ctx context.Context, hs [][]byte) ([][]byte, error) {
	if len(hs) == 0 {
		return nil, nil
	}
	var missing [][]byte
	err := db.write(ctx, func(tx pgx.Tx) error {
		missing = missing[:0]
		rows, err := tx.Query(ctx, `
			WITH locked AS (
				SELECT hash FROM pack_blocks WHERE hash = ANY($1::bytea[]) ORDER BY hash FOR UPDATE)
			UPDATE pack_blocks b SET seq = nextval('pack_seq') FROM locked WHERE b.hash = locked.hash
			RETURNING b.hash`, hs)
		if err != nil {
			return err
		}
		found := map[string]bool{}
		for rows.Next() {
			var h []byte
			if err := rows.Scan(&h); err != nil {
				rows.Close()
				return err
			}
			found[string(h)] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, h := range hs {
			if !found[string(h)] {
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

// DeleteUnchanged removes the entries of hs at or before position seq. A
// row touched meanwhile is checked again once its lock is free, and
// stays.
func (db *DB) DeleteUnchanged(ctx context.Context, hs [][]byte, seq int64) (int, int64, error) {
	if len(hs) == 0 {
		return 0, 0, nil
	}
	var n int
	var size int64
	err := db.write(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `
			WITH gone AS (
				DELETE FROM pack_blocks WHERE hash = ANY($1::bytea[]) AND seq <= $2 RETURNING len)
			SELECT count(*), coalesce(sum(len), 0)::bigint FROM gone`, hs, seq).Scan(&n, &size)
	})
	if err != nil {
		return 0, 0, fmt.Errorf("delete blocks: %w", err)
	}
	return n, size, nil
}
