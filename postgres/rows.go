package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/tack-ipfs/tack/internal/sqlrow"
)

// queryAll runs sql through q and scans every row it returns with scan
// (pgx.CollectRows). It returns an empty slice, not nil, for no rows.
func queryAll[T any](ctx context.Context, q querier, scan func(sqlrow.Scanner) (T, error), sql string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (T, error) { return scan(row) })
}
