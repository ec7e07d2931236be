package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"sync"
)

// maxCachedStatements bounds the cache of prepared statements. Queries are
// built from a few fixed shapes, but a list filter's IN (?, ?, …) has one
// shape per length: past the bound, statements are prepared each time.
const maxCachedStatements = 512

// stmtCache keeps prepared statements by their SQL text. Preparing is a
// third of the cost of a short write here, and more for statements on pins,
// whose triggers SQLite compiles into every statement that fires them.
type stmtCache struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// get returns the statement prepared for query, preparing it on first use,
// or nil if it is not to be cached: several statements in one string, or
// a full cache.
func (c *stmtCache) get(ctx context.Context, db *sql.DB, query string) *sql.Stmt {
	if strings.Contains(query, ";") {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[query]; ok {
		return st
	}
	if len(c.m) >= maxCachedStatements {
		return nil
	}
	st, err := db.PrepareContext(context.WithoutCancel(ctx), query)
	if err != nil {
		return nil // the caller runs it unprepared and reports the error
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[query] = st
	return st
}

// close closes every cached statement.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = nil
}

// txn runs statements in a transaction, or on the pool when Tx is nil,
// through the DB's cache of prepared statements. database/sql prepares a
// cached statement once on each connection and reuses it there.
type txn struct {
	*sql.Tx
	db *DB
}

// pool returns a txn that runs statements outside any transaction.
func (db *DB) pool() *txn { return &txn{db: db} }

func (t *txn) stmt(ctx context.Context, query string) *sql.Stmt {
	st := t.db.stmts.get(ctx, t.db.db, query)
	if st != nil && t.Tx != nil {
		st = t.Tx.StmtContext(ctx, st)
	}
	return st
}

// ExecContext runs a statement that returns no rows.
func (t *txn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	} else if t.Tx != nil {
		return t.Tx.ExecContext(ctx, query, args...)
	}
	return t.db.db.ExecContext(ctx, query, args...)
}

// QueryContext runs a query.
func (t *txn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	} else if t.Tx != nil {
		return t.Tx.QueryContext(ctx, query, args...)
	}
	return t.db.db.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a query that returns at most one row.
func (t *txn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	} else if t.Tx != nil {
		return t.Tx.QueryRowContext(ctx, query, args...)
	}
	return t.db.db.QueryRowContext(ctx, query, args...)
}
