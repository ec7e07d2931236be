package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/internal/sqlrow"
)

var _ tack.Importer = (*DB)(nil)

// copyColumns returns t's column names.
func copyColumns(t tack.CopyTable) []string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
		if c.Kind == tack.CopyJSON {
			names[i] += "::text" // as the JSON text, whatever its type here
		}
	}
	return names
}

// ExportRows calls fn with each row of t, in the order of its first
// column, read in one snapshot.
func (db *DB) ExportRows(ctx context.Context, t tack.CopyTable, fn func(row []any) error) error {
	return db.queryCopy(ctx, t, `SELECT `+strings.Join(copyColumns(t), ", ")+` FROM `+t.Name+` ORDER BY `+t.Columns[0].Name, nil, fn)
}

// CountRows returns how many rows t holds.
func (db *DB) CountRows(ctx context.Context, t tack.CopyTable) (int64, error) {
	var n int64
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM `+t.Name).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", t.Name, err)
	}
	return n, nil
}

// SampleRows returns up to n rows of t chosen at random.
func (db *DB) SampleRows(ctx context.Context, t tack.CopyTable, n int) ([][]any, error) {
	var out [][]any
	err := db.queryCopy(ctx, t, `SELECT `+strings.Join(copyColumns(t), ", ")+` FROM `+t.Name+` ORDER BY random() LIMIT $1`, []any{n},
		func(row []any) error { out = append(out, row); return nil })
	return out, err
}

// FindRows returns the rows of t whose first column is one of ids.
func (db *DB) FindRows(ctx context.Context, t tack.CopyTable, ids []any) ([][]any, error) {
	var out [][]any
	var a args
	in := make([]string, len(ids))
	for i, id := range ids {
		in[i] = a.add(id)
	}
	if len(ids) == 0 {
		return out, nil
	}
	err := db.queryCopy(ctx, t, `SELECT `+strings.Join(copyColumns(t), ", ")+` FROM `+t.Name+` WHERE `+t.Columns[0].Name+` IN (`+strings.Join(in, ", ")+`)`, a,
		func(row []any) error { out = append(out, row); return nil })
	return out, err
}

func (db *DB) queryCopy(ctx context.Context, t tack.CopyTable, query string, args []any, fn func([]any) error) error {
	err := db.read(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		return sqlrow.Each(rows, func(row sqlrow.Scanner) ([]any, error) { return sqlrow.ScanCopyRow(t, row) }, fn)
	})
	if err != nil {
		return fmt.Errorf("%s: %w", t.Name, err)
	}
	return nil
}

// Import runs fn in one transaction, storing the rows it puts with COPY
// (queue_state's one row over the target's), and moves the id sequences
// and the pack index's position past those copied; then it analyzes the
// database. The
// triggers on pins count the requests they copy, as they count those
// created.
func (db *DB) Import(ctx context.Context, fn func(put func(t tack.CopyTable, rows [][]any) error) error) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		put := func(t tack.CopyTable, rows [][]any) error {
			if t.Name == "queue_state" {
				for _, r := range rows {
					if _, err := tx.Exec(ctx, `UPDATE queue_state SET vtime = $2 WHERE id = $1`, r[0], r[1]); err != nil {
						return fmt.Errorf("queue_state: %w", err)
					}
				}
				return nil
			}
			names := make([]string, len(t.Columns))
			for i, c := range t.Columns {
				names[i] = c.Name
			}
			src := make([][]any, len(rows))
			for i, r := range rows {
				src[i] = make([]any, len(r))
				for j, v := range r {
					if t.Columns[j].Kind == tack.CopyJSON {
						v = json.RawMessage(v.(string))
					}
					src[i][j] = v
				}
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{t.Name}, names, pgx.CopyFromRows(src)); err != nil {
				return fmt.Errorf("copy into %s: %w", t.Name, err)
			}
			return nil
		}
		if err := fn(put); err != nil {
			return err
		}
		// Sequences past what was copied: ids, and the pack index's
		// positions (see PackIndex.Seq).
		for _, q := range []string{
			`SELECT setval(pg_get_serial_sequence('accounts', 'id'), coalesce(max(id), 0) + 1, false) FROM accounts`,
			`SELECT setval(pg_get_serial_sequence('upload_keeps', 'id'), coalesce(max(id), 0) + 1, false) FROM upload_keeps`,
			`SELECT setval(pg_get_serial_sequence('packs', 'id'), coalesce(max(id), 0) + 1, false) FROM packs`,
			`SELECT setval('pack_seq', greatest(coalesce(max(seq), 0), (SELECT last_value FROM pack_seq)), true) FROM pack_blocks`,
		} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// The planner's statistics of tables that were empty a moment ago,
	// without waiting for autovacuum (which may be off).
	if _, err := db.pool.Exec(ctx, `ANALYZE`); err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	return nil
}
