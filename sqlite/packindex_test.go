package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/tack-ipfs/tack/blockstore"
	"github.com/tack-ipfs/tack/blockstore/packindextest"
)

func TestPackIndex(t *testing.T) {
	t.Parallel()
	packindextest.Run(t, func(t *testing.T) blockstore.PackIndex {
		return MustOpen(t, filepath.Join(t.TempDir(), "tack.db"))
	})
}
