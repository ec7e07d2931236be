package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/sqlite"
	"github.com/tack-ipfs/tack/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) tack.Store {
		return MustOpen(t, filepath.Join(t.TempDir(), "tack.db"))
	})
}

// MustOpen opens the database at path; the caller closes it.
func MustOpen(tb testing.TB, path string) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(tb.Context(), path)
	if err != nil {
		tb.Fatalf("Open(%s): %v", path, err)
	}
	return db
}
