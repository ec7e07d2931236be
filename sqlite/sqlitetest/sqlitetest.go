// Package sqlitetest opens SQLite stores for the tests of other packages.
package sqlitetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tack-ipfs/tack/sqlite"
)

// MustOpen opens a fresh SQLite store in a temporary directory, closed by
// tb.Cleanup.
func MustOpen(tb testing.TB) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "tack.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}
