package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tack-ipfs/tack"
)

// unavailable turns the errors of a database that cannot be reached or
// cannot commit now, but may later, into tack.Unavailable errors: a
// connection refused, broken or closed (PostgreSQL down or restarting),
// the server shutting down or starting (SQLSTATE class 57P, 08), out of
// resources (class 53: disk full, too many connections) or failing to do
// I/O (58030). A cancelled or timed-out context is the caller's, and any
// other error is returned as it is.
func unavailable(err error) error {
	if err == nil || errors.As(err, new(*tack.Error)) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "53100":
			return tack.Unavailable(tack.MsgStoreFull, err)
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "53"),
			strings.HasPrefix(pe.Code, "57P"), pe.Code == "58030":
			return tack.Unavailable(tack.MsgStoreUnavailable, err)
		}
		return err
	}
	var ne net.Error
	if errors.As(err, new(*pgconn.ConnectError)) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.As(err, &ne) {
		return tack.Unavailable(tack.MsgStoreUnavailable, err)
	}
	return err
}

// connPool is the pool of connections, whose every error is classified
// with unavailable; so are the errors of the transactions of write and
// read.
type connPool struct{ *pgxpool.Pool }

// Exec runs a statement.
func (p connPool) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	tag, err := p.Pool.Exec(ctx, sql, args...)
	return tag, unavailable(err)
}

// Query runs a query.
func (p connPool) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	rows, err := p.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, unavailable(err)
	}
	return classifiedRows{rows}, nil
}

// QueryRow runs a query that returns at most one row.
func (p connPool) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return classifiedRow{p.Pool.QueryRow(ctx, sql, args...)}
}

// Begin starts a transaction.
func (p connPool) Begin(ctx context.Context) (pgx.Tx, error) {
	tx, err := p.Pool.Begin(ctx)
	return tx, unavailable(err)
}

// BeginTx starts a transaction with options.
func (p connPool) BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error) {
	tx, err := p.Pool.BeginTx(ctx, opts)
	return tx, unavailable(err)
}

// Acquire takes a connection from the pool.
func (p connPool) Acquire(ctx context.Context) (*pgxpool.Conn, error) {
	c, err := p.Pool.Acquire(ctx)
	return c, unavailable(err)
}

// classifiedRows are rows whose error is classified with unavailable.
type classifiedRows struct{ pgx.Rows }

func (r classifiedRows) Err() error { return unavailable(r.Rows.Err()) }

func (r classifiedRows) Scan(dest ...any) error { return unavailable(r.Rows.Scan(dest...)) }

// classifiedRow is a row whose error is classified with unavailable.
type classifiedRow struct{ pgx.Row }

func (r classifiedRow) Scan(dest ...any) error { return unavailable(r.Row.Scan(dest...)) }
