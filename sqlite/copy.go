package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/internal/sqlrow"
)

var _ tack.Exporter = (*DB)(nil)

// copyColumns returns t's columns for a SELECT.
func copyColumns(t tack.CopyTable) string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

// ExportRows calls fn with each row of t, in the order of its first
// column, read in one transaction.
func (db *DB) ExportRows(ctx context.Context, t tack.CopyTable, fn func(row []any) error) error {
	return db.queryCopy(ctx, t, `SELECT `+copyColumns(t)+` FROM `+t.Name+` ORDER BY `+t.Columns[0].Name, nil, fn)
}

// CountRows returns how many rows t holds.
func (db *DB) CountRows(ctx context.Context, t tack.CopyTable) (int64, error) {
	var n int64
	if err := db.pool().QueryRowContext(ctx, `SELECT count(*) FROM `+t.Name).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", t.Name, err)
	}
	return n, nil
}

// SampleRows returns up to n rows of t chosen at random.
func (db *DB) SampleRows(ctx context.Context, t tack.CopyTable, n int) ([][]any, error) {
	var out [][]any
	err := db.queryCopy(ctx, t, `SELECT `+copyColumns(t)+` FROM `+t.Name+` ORDER BY random() LIMIT ?`, []any{n},
		func(row []any) error { out = append(out, row); return nil })
	return out, err
}

// FindRows returns the rows of t whose first column is one of ids.
func (db *DB) FindRows(ctx context.Context, t tack.CopyTable, ids []any) ([][]any, error) {
	var out [][]any
	if len(ids) == 0 {
		return out, nil
	}
	err := db.queryCopy(ctx, t, `SELECT `+copyColumns(t)+` FROM `+t.Name+` WHERE `+t.Columns[0].Name+` IN (`+placeholders(len(ids))+`)`, ids,
		func(row []any) error { out = append(out, row); return nil })
	return out, err
}

func (db *DB) queryCopy(ctx context.Context, t tack.CopyTable, query string, args []any, fn func([]any) error) error {
	err := db.read(ctx, func(tx *txn) error {
		rows, err := tx.QueryContext(ctx, query, args...)
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
