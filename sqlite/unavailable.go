package sqlite

import (
	"database/sql"
	"errors"
	"syscall"

	"github.com/tack-ipfs/tack"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// unavailable turns the errors of a database that cannot answer or cannot
// commit now, but may later, into tack.Unavailable errors: a full disk
// (SQLITE_FULL, ENOSPC), a failing one (SQLITE_IOERR, SQLITE_CANTOPEN), and
// a lock that another process held past busy_timeout (SQLITE_BUSY). Any
// other error is returned as it is.
func unavailable(err error) error {
	if err == nil || errors.As(err, new(*tack.Error)) {
		return err
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return tack.Unavailable(tack.MsgStoreFull, err)
	}
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return err
	}
	// Extended codes (SQLITE_IOERR_WRITE, SQLITE_BUSY_SNAPSHOT, …) keep
	// their primary code in the low byte.
	switch e.Code() & 0xff {
	case sqlite3.SQLITE_FULL:
		return tack.Unavailable(tack.MsgStoreFull, err)
	case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_BUSY:
		return tack.Unavailable(tack.MsgStoreUnavailable, err)
	}
	return err
}

// row is a *sql.Row whose Scan classifies its error with unavailable.
type row struct{ *sql.Row }

// Scan copies the row's columns into dest.
func (r row) Scan(dest ...any) error { return unavailable(r.Row.Scan(dest...)) }
