package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// OpenMigratedTo opens the database at url with only the migrations up to
// last applied: the database as an older tack left it.
func OpenMigratedTo(ctx context.Context, url, last string) (*DB, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, err
	}
	db := &DB{pool: connPool{pool}, Now: time.Now}
	if err := db.migrateTo(ctx, last); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// Pool returns the DB's connections, for tests that look at rows.
func (db *DB) Pool() *pgxpool.Pool { return db.pool.Pool }
