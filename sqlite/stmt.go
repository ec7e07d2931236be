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
	mu        sync.Mutex
	m         map[string]*sql.Stmt
	preparing map[string]bool
	closed    bool
}

// get returns the statement prepared for query, or nil if it is not to be
// cached (several statements in one string, or a full cache) or not
// prepared yet. With wait it prepares a missing one before it returns;
// without, it prepares it in the background: a caller inside a
// transaction holds a connection, and preparing on the pool takes another,
// so waiting there could deadlock once every connection is in a
// transaction.
func (c *stmtCache) get(ctx context.Context, db *sql.DB, query string, wait bool) *sql.Stmt {
	if strings.Contains(query, ";") {
		return nil
	}
	c.mu.Lock()
	st, ok := c.m[query]
	if ok || len(c.m) >= maxCachedStatements || c.preparing[query] {
		c.mu.Unlock()
		return st
	}
	if c.preparing == nil {
		c.preparing = map[string]bool{}
	}
	c.preparing[query] = true
	c.mu.Unlock()
	prepare := func() *sql.Stmt {
		st, err := db.PrepareContext(context.WithoutCancel(ctx), query)
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.preparing, query)
		if err != nil || c.closed {
			if st != nil {
				st.Close()
			}
			return nil // the caller runs it unprepared and reports any error
		}
		if c.m == nil {
			c.m = map[string]*sql.Stmt{}
		}
		c.m[query] = st
		return st
	}
	if wait {
		return prepare()
	}
	go prepare()
	return nil
}

// close closes every cached statement.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m, c.closed = nil, true
}

// txn runs statements in a transaction, or on the pool when Tx is nil,
// through the DB's cache of prepared statements, and classifies their
// errors with unavailable. database/sql prepares a
// cached statement once on each connection and reuses it there.
type txn struct {
	*sql.Tx
	db *DB
}

// pool returns a txn that runs statements outside any transaction.
func (db *DB) pool() *txn { return &txn{db: db} }

func (t *txn) stmt(ctx context.Context, query string) *sql.Stmt {
	st := t.db.stmts.get(ctx, t.db.db, query, t.Tx == nil)
	if st != nil && t.Tx != nil {
		st = t.Tx.StmtContext(ctx, st)
	}
	return st
}

// ExecContext runs a statement that returns no rows.
func (t *txn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	var res sql.Result
	var err error
	if st := t.stmt(ctx, query); st != nil {
		res, err = st.ExecContext(ctx, args...)
	} else if t.Tx != nil {
		res, err = t.Tx.ExecContext(ctx, query, args...)
	} else {
		res, err = t.db.db.ExecContext(ctx, query, args...)
	}
	return res, unavailable(err)
}

// QueryContext runs a query.
func (t *txn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	var rows *sql.Rows
	var err error
	if st := t.stmt(ctx, query); st != nil {
		rows, err = st.QueryContext(ctx, args...)
	} else if t.Tx != nil {
		rows, err = t.Tx.QueryContext(ctx, query, args...)
	} else {
		rows, err = t.db.db.QueryContext(ctx, query, args...)
	}
	return rows, unavailable(err)
}

// QueryRowContext runs a query that returns at most one row.
func (t *txn) QueryRowContext(ctx context.Context, query string, args ...any) row {
	if st := t.stmt(ctx, query); st != nil {
		return row{st.QueryRowContext(ctx, args...)}
	} else if t.Tx != nil {
		return row{t.Tx.QueryRowContext(ctx, query, args...)}
	}
	return row{t.db.db.QueryRowContext(ctx, query, args...)}
}
