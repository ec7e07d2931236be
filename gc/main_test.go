package gc_test

import (
	"os"
	"testing"

	"github.com/tack-ipfs/tack/internal/pgtest"
)

// TestMain drops the template pgtest.Shared makes once for the binary.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
