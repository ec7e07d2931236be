package postgres_test

import (
	"testing"

	"github.com/tack-ipfs/tack/blockstore"
	"github.com/tack-ipfs/tack/blockstore/packindextest"
	"github.com/tack-ipfs/tack/internal/pgtest"
)

func TestPackIndex(t *testing.T) {
	t.Parallel()
	tmpl := pgtest.Shared(t)
	packindextest.Run(t, func(t *testing.T) blockstore.PackIndex {
		db := MustOpen(t, tmpl.New(t))
		t.Cleanup(func() { db.Close() })
		return db
	})
}
