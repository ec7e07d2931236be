package postgres_test

import (
	"testing"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/internal/pgtest"
	"github.com/tack-ipfs/tack/postgres"
	"github.com/tack-ipfs/tack/storetest"
)

func TestStore(t *testing.T) {
	tmpl := pgtest.NewTemplate(t)
	storetest.Run(t, func(t *testing.T) tack.Store {
		return MustOpen(t, tmpl.New(t))
	})
}

// MustOpen opens the database at url; the caller closes it.
func MustOpen(tb testing.TB, url string) *postgres.DB {
	tb.Helper()
	db, err := postgres.Open(tb.Context(), url)
	if err != nil {
		tb.Fatalf("Open(%s): %v", url, err)
	}
	return db
}
