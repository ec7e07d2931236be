// Package postgres implements tack.Store on PostgreSQL, the metadata store
// for scale-out: several tack processes share one database, and any of
// them may answer any API call or claim any queued request.
//
// The tables and queries mirror the SQLite store's. Where SQLite relies on
// its single writer, this store takes locks: a pin request is created
// under its account's row lock (unique created times, turns, the pending
// cap) and an advisory lock on its content key (so that a DAG recorded
// whole at the same moment either pins it or sees it); claims take
// requests FOR UPDATE SKIP LOCKED, so that workers on several nodes never
// wait for each other nor take the same request.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tack-ipfs/tack"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// DB is the PostgreSQL metadata store.
type DB struct {
	pool connPool

	// horizon is where counted queue positions end (see QueuePositions).
	horizon tack.QueueHorizon

	// Now returns the current time. It defaults to time.Now; tests may
	// replace it before the DB is used.
	Now tack.Clock

	// Limits are the limits of accounts that have none of their own. The
	// zero value limits nothing. Set it before the DB is used.
	Limits tack.Limits
}

var _ tack.Store = (*DB)(nil)

// Open connects to the database at url (postgres://… or postgresql://…,
// as libpq takes it, with pgxpool's pool_max_conns, 32 by default) and
// brings its schema up to date.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		// pgxpool's default, 4 on a small machine, would queue the API's
		// writes behind each other's commits.
		cfg.MaxConns = defaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db := &DB{pool: connPool{pool}, Now: time.Now}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: migrate %s@%s/%s: %w", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Database, err)
	}
	return db, nil
}

// defaultMaxConns bounds the connections of one process to the database,
// unless the URL's pool_max_conns says otherwise.
const defaultMaxConns = 32

// Close closes the connections to the database.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// migrationLock is the pg_advisory_lock key under which migrations run, so
// that nodes that start at once apply each migration once, in order.
const migrationLock = 0x7461636b // "tack"

// Migrations returns the names of the embedded migrations, in the order
// they are applied.
func Migrations() []string {
	names, _ := fs.Glob(migrationFS, "migrations/*.sql")
	sort.Strings(names)
	for i, n := range names {
		names[i] = strings.TrimPrefix(n, "migrations/")
	}
	return names
}

// migrate applies, in name order and each in its own transaction, the
// embedded migrations that schema_migrations does not list, holding the
// migration lock on one connection throughout.
func (db *DB) migrate(ctx context.Context) error {
	return db.migrateTo(ctx, "")
}

// migrateTo applies the migrations up to and including last (all of them
// if last is ""). Tests use it to make a database as an older tack left it.
func (db *DB) migrateTo(ctx context.Context, last string) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLock)
	if _, err := conn.Exec(ctx, `
		CREATE TABLE IF NOT EXISTS schema_migrations (
			version text PRIMARY KEY,
			applied timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, name := range Migrations() {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			var done bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, name).Scan(&done); err != nil || done {
				return err
			}
			buf, err := fs.ReadFile(migrationFS, "migrations/"+name)
			if err != nil {
				return err
			}
			// The simple protocol runs a file of several statements.
			if _, err := tx.Exec(ctx, string(buf), pgx.QueryExecModeSimpleProtocol); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, name)
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if name == last {
			break
		}
	}
	return nil
}

// querier runs statements: the pool, or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// maxAttempts bounds how often a transaction that lost a deadlock or a
// serialization conflict is run again.
const maxAttempts = 8

// write runs fn in a transaction (READ COMMITTED) and commits it if fn
// returns nil. A transaction that PostgreSQL aborted for a deadlock or a
// serialization failure is run again from the start, so fn must set its
// results afresh each time. A database that cannot be reached or cannot
// commit gives a tack.Unavailable error (see unavailable).
func (db *DB) write(ctx context.Context, fn func(tx pgx.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := pgx.BeginFunc(ctx, db.pool, fn)
		if attempt < maxAttempts && retryable(err) {
			time.Sleep(time.Duration(attempt) * time.Millisecond)
			continue
		}
		return unavailable(err)
	}
}

// read runs fn in a read-only REPEATABLE READ transaction, so that its
// queries see one snapshot.
func (db *DB) read(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return unavailable(pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn))
}

// retryable reports whether err aborted a transaction that may succeed if
// run again.
func retryable(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && (e.Code == "40P01" || e.Code == "40001")
}

// isUniqueViolation reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUniqueViolation(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505"
}

// lockKeys takes the advisory transaction locks of the content keys, in
// one order whatever the caller's, so that two transactions never wait
// for each other's. CreatePin, CompleteDAG, RequeueDAG and ForgetDAGs
// take them: a DAG's record and the requests for it change together.
func lockKeys(ctx context.Context, tx pgx.Tx, keys ...string) error {
	_, err := tx.Exec(ctx, `
		SELECT pg_advisory_xact_lock(h) FROM (
			SELECT DISTINCT hashtextextended(k, `+keyLockSeed+`) AS h FROM unnest($1::text[]) AS k ORDER BY h) s`, keys)
	if err != nil {
		return fmt.Errorf("lock content keys: %w", err)
	}
	return nil
}

// keyLockSeed seeds the hash of content keys into advisory lock keys, away
// from migrationLock.
const keyLockSeed = "1953391467"

// now returns the current time in microseconds since the epoch.
func (db *DB) now() int64 {
	return db.Now().UnixMicro()
}

// micros and timeOf convert times to and from the store's microseconds.
func micros(t time.Time) int64  { return tack.Micros(t) }
func timeOf(us int64) time.Time { return tack.TimeOfMicros(us) }

// args collects the arguments of a query built piece by piece.
type args []any

// add appends v and returns its placeholder.
func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}
