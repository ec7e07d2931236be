// Package sqlite implements tack.Store on an embedded SQLite database, the
// default metadata store. Several processes may use one database file at
// once (tack serve and tack account create, for example): the database runs
// in WAL mode, waits up to 10 seconds for a lock, and begins every write
// transaction IMMEDIATE so that two writers never deadlock on a lock
// upgrade.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tack-ipfs/tack"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migration/*.sql
var migrationFS embed.FS

// dsnParams configures every connection: a busy timeout first (modernc runs
// it before the other pragmas), foreign keys, WAL, synchronous FULL so that
// nothing acknowledged is lost on power failure, and BEGIN IMMEDIATE for
// every transaction that is not read-only.
//
// wal_autocheckpoint(0): no commit copies the log back into the database
// on its way out (a stall of tens of milliseconds for the write, and every
// write queued behind it); a background goroutine of each DB does it
// instead (see checkpoints).
//
// temp_store(MEMORY): the statement journal of each savepoint of a group
// commit (see write), and any other temporary table, lives in memory rather
// than in a temporary file: under `POST /pins` at 1,000/s, 0.3 s of the
// server's 11.4 s of CPU went to writing that file. It holds copies of the
// pages one transaction changes, and is gone at its end; what is durable
// does not change.
const dsnParams = "_pragma=busy_timeout(10000)" +
	"&_pragma=wal_autocheckpoint(0)" +
	"&_pragma=temp_store(MEMORY)" +
	"&_pragma=foreign_keys(1)" +
	"&_pragma=journal_mode(WAL)" +
	"&_pragma=synchronous(FULL)" +
	"&_txlock=immediate"

// DB is the SQLite metadata store.
type DB struct {
	db    *sql.DB
	conns *connector

	// writeSem is held by the one goroutine that runs this process's write
	// transactions, so that they queue in Go instead of polling SQLite's
	// lock; the writes waiting meanwhile are in queue, and the holder
	// commits them together (see write). Other processes are kept out by
	// SQLite's own lock and busy_timeout.
	writeSem chan struct{}
	mu       sync.Mutex
	queue    []*writeReq
	// horizon is where counted queue positions end (see QueuePositions).
	horizon tack.QueueHorizon

	stmts stmtCache

	// stop ends the checkpoints goroutine, which closes stopped.
	stop, stopped chan struct{}
	closeOnce     sync.Once

	// Now returns the current time. It defaults to time.Now; tests may
	// replace it before the DB is used.
	Now tack.Clock

	// Limits are the limits of accounts that have none of their own. The
	// zero value limits nothing. Set it before the DB is used.
	Limits tack.Limits
}

var _ tack.Store = (*DB)(nil)

// Open opens (creating it if needed) the database file at path and brings
// its schema up to date.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, fmt.Errorf("sqlite: database path required")
	}
	if strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("sqlite: database path %q must not contain '?'", path)
	}
	base, err := sqlite.NewConnector(path + "?" + dsnParams)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	conns := &connector{Connector: base}
	sdb := sql.OpenDB(conns)
	// Keep connections, and the statements prepared on them, instead of
	// closing all but two after each burst of reads; and bound them, since
	// each holds its own page cache: reads beyond the bound wait. Every
	// open one is kept: with fewer kept than may be open, a burst of more
	// than that many requests closed connections and opened new ones, with
	// their pragmas and cold statement caches (5% of the server's CPU under
	// `POST /pins` at 1,000/s).
	sdb.SetMaxIdleConns(maxConns)
	sdb.SetMaxOpenConns(maxConns)
	db := &DB{db: sdb, conns: conns, writeSem: make(chan struct{}, 1), Now: time.Now, stop: make(chan struct{}), stopped: make(chan struct{})}
	if err := db.migrate(ctx); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("sqlite: migrate %s: %w", path, err)
	}
	go db.checkpoints()
	return db, nil
}

// checkpointEvery is how often the log is copied back into the database.
const checkpointEvery = 500 * time.Millisecond

// checkpoints copies the write-ahead log back into the database file in
// the background, PASSIVE: it never waits for readers or writers, and they
// never wait for it. SQLite then starts the log over from its beginning at
// a write once every reader has moved past it. The last one, at Close,
// truncates the log.
func (db *DB) checkpoints() {
	defer close(db.stopped)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-db.stop:
			db.db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
			return
		case <-t.C:
			db.db.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
		}
	}
}

// Close closes the database.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		close(db.stop)
		<-db.stopped
	})
	db.stmts.close()
	db.conns.close()
	return db.db.Close()
}

// connector opens the DB's connections until close. database/sql opens
// connections in a goroutine of its own when queries wait for one, and
// its Close does not wait for an open under way: without this, an open
// that began before Close could create the database file again after
// the caller removed it (each connection's pragmas write to the file).
type connector struct {
	driver.Connector
	mu     sync.RWMutex
	closed bool
}

// Connect opens a connection, unless the DB is closed.
func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return nil, sql.ErrConnDone
	}
	return c.Connector.Connect(ctx)
}

// close refuses new connections, once any open under way has ended.
func (c *connector) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
}

// migrate applies, in name order and each in its own transaction, the
// embedded migrations not yet recorded in the migrations table.
func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY)`); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	names, err := fs.Glob(migrationFS, "migration/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		if err := db.migrateFile(ctx, name); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return nil
}

func (db *DB) migrateFile(ctx context.Context, name string) error {
	return db.write(ctx, func(ctx context.Context, tx *txn) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM migrations WHERE name = ?`, name).Scan(&n); err != nil {
			return err
		} else if n != 0 {
			return nil // already applied
		}
		buf, err := fs.ReadFile(migrationFS, name)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(buf)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO migrations (name) VALUES (?)`, name)
		return err
	})
}

// maxConns bounds the connections to the database file.
const maxConns = 32

// maxGroupCommit is how many waiting writes one transaction commits.
const maxGroupCommit = 128

// writeReq is a write waiting for its transaction.
type writeReq struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx *txn) error
	done chan error // buffered: the writer never waits on the caller
}

// write runs fn in a write transaction (BEGIN IMMEDIATE) and commits it if
// fn returns nil, as if alone: an error of fn undoes only what fn did.
//
// Writes that arrive while another is being committed wait, and are then
// run one after another in one transaction, each inside its own
// savepoint, and committed together: one fsync for many writes (group
// commit). fn gets ctx without its cancellation, because cancelling a
// statement in SQLite can roll back the whole transaction, and with it the
// other writes; a write whose ctx is done before it runs is skipped.
//
// An error of a database that cannot commit now (a full disk, say) is a
// tack.Unavailable error: see unavailable.
func (db *DB) write(ctx context.Context, fn func(ctx context.Context, tx *txn) error) error {
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	db.mu.Lock()
	db.queue = append(db.queue, req)
	db.mu.Unlock()
	select {
	case err := <-req.done:
		return unavailable(err) // another goroutine committed it
	case db.writeSem <- struct{}{}:
	}
	defer func() { <-db.writeSem }()
	for {
		select {
		case err := <-req.done:
			return unavailable(err)
		default:
		}
		db.mu.Lock()
		n := min(len(db.queue), maxGroupCommit)
		batch := db.queue[:n:n]
		db.queue = db.queue[n:]
		db.mu.Unlock()
		db.commit(batch)
	}
}

// commit runs the writes of batch in one transaction and answers each.
func (db *DB) commit(batch []*writeReq) {
	errs := make([]error, len(batch))
	answered := false
	answer := func(err error) {
		answered = true
		for i, r := range batch {
			if errs[i] == nil {
				errs[i] = err
			}
			r.done <- errs[i]
		}
	}
	// A write that panics takes the transaction down with it: the other
	// writes of the batch are answered, not left waiting, and the panic
	// goes on up the goroutine that ran it.
	defer func() {
		if v := recover(); v != nil {
			if !answered {
				answer(fmt.Errorf("a write of the same transaction panicked: %v", v))
			}
			panic(v)
		}
	}()
	tx, err := db.db.BeginTx(context.Background(), nil)
	if err != nil {
		answer(fmt.Errorf("begin: %w", err))
		return
	}
	defer tx.Rollback()
	alone := len(batch) == 1
	// The savepoints' statements, prepared once per connection through the
	// cache like every other.
	t := &txn{Tx: tx, db: db}
	exec := func(query string) error {
		_, err := t.ExecContext(context.Background(), query)
		return err
	}
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		if !alone {
			if err := exec(`SAVEPOINT write`); err != nil {
				answer(fmt.Errorf("savepoint: %w", err))
				return
			}
		}
		errs[i] = r.fn(context.WithoutCancel(r.ctx), t)
		switch {
		case alone && errs[i] != nil:
			answer(nil)
			return
		case alone:
		case errs[i] != nil:
			// Undo this write alone. If the transaction is gone (SQLite
			// rolls back on some errors), every write of it is.
			if err := errors.Join(exec(`ROLLBACK TO write`), exec(`RELEASE write`)); err != nil {
				answer(fmt.Errorf("write rolled back with the transaction: %w", errs[i]))
				return
			}
		default:
			if err := exec(`RELEASE write`); err != nil {
				answer(fmt.Errorf("release savepoint: %w", err))
				return
			}
		}
	}
	if err := tx.Commit(); err != nil {
		answer(fmt.Errorf("commit: %w", err))
		return
	}
	answer(nil)
}

// read runs fn in a read-only transaction, so that its queries see one
// snapshot.
func (db *DB) read(ctx context.Context, fn func(tx *txn) error) error {
	tx, err := db.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin: %w", unavailable(err))
	}
	defer tx.Rollback()
	return unavailable(fn(&txn{Tx: tx, db: db}))
}

// now returns the current time in microseconds since the epoch.
func (db *DB) now() int64 {
	return db.Now().UnixMicro()
}

// micros and timeOf convert times to and from the store's microseconds.
func micros(t time.Time) int64  { return tack.Micros(t) }
func timeOf(us int64) time.Time { return tack.TimeOfMicros(us) }

// isUniqueViolation reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUniqueViolation(err error) bool {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// placeholders returns "?, ?, …" with n marks.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
