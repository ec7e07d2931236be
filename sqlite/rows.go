package sqlite

import (
	"context"
	"database/sql"

	"github.com/tack-ipfs/tack/internal/sqlrow"
)

// scanner is one row: a *sql.Row, or *sql.Rows at its current row.
type scanner = sqlrow.Scanner

// queryAll runs query through tx and scans every row it returns with
// scan. It returns an empty slice, not nil, for no rows.
func queryAll[T any](ctx context.Context, tx *txn, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scan)
}

// collect scans every row of rows with scan, and closes rows.
func collect[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, unavailable(err)
		}
		out = append(out, v)
	}
	return out, unavailable(rows.Err())
}

// scanValue scans a row of one column.
func scanValue[T any](row scanner) (T, error) {
	var v T
	err := row.Scan(&v)
	return v, err
}
