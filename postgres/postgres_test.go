package postgres_test

import (
	"os"
	"testing"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/internal/pgtest"
	"github.com/tack-ipfs/tack/postgres"
	"github.com/tack-ipfs/tack/storetest"
)

// TestMain drops the template pgtest.Shared makes once for the binary.
// The tests run -parallel's default (GOMAXPROCS) at once: 4 took the
// package from about 45 s to 25 s on two cores, but it is not the suite's
// long pole, and with the other packages' databases on the same server
// it reached the server's 100 connections once ("too many clients").
func TestMain(m *testing.M) {
	os.Exit(pgtest.Main(m))
}

func TestStore(t *testing.T) {
	t.Parallel()
	tmpl := pgtest.Shared(t)
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

// TestCreatePinPosition: past the queue's horizon, CreatePin sets the
// position QueuePositions would, in the same round trip.
func TestCreatePinPosition(t *testing.T) {
	t.Parallel()
	db := MustOpen(t, pgtest.Shared(t).New(t))
	defer db.Close()
	a := storetest.MustCreateAccount(t, db, "a@example.com")
	b := storetest.MustCreateAccount(t, db, "b@example.com")
	storetest.MustCreatePins(t, db, a.ID, "a", tack.MaxCountedPosition+5)
	storetest.MustCreatePins(t, db, b.ID, "b", 3)
	// The horizon is looked up by QueuePositions, and kept a while.
	first := storetest.MustCreatePin(t, db, storetest.NewPin(t, b.ID, "first"))
	if err := db.QueuePositions(t.Context(), []*tack.PinRequest{first}); err != nil {
		t.Fatal(err)
	}
	// a's new request is past the horizon, b's is not: CreatePin leaves
	// its position to QueuePositions.
	for _, acct := range []int64{a.ID, b.ID} {
		r := storetest.MustCreatePin(t, db, storetest.NewPin(t, acct, "new"))
		if (r.Position == 0) != (acct == b.ID) {
			t.Errorf("account %d: CreatePin set Position %d", acct, r.Position)
		}
		if r.Position == 0 {
			continue
		}
		want := *r
		want.Position, want.PositionOver, want.OwnAhead = 0, false, 0
		if err := db.QueuePositions(t.Context(), []*tack.PinRequest{&want}); err != nil {
			t.Fatal(err)
		}
		if r.Position != want.Position || r.PositionOver != want.PositionOver || r.OwnAhead != want.OwnAhead {
			t.Errorf("account %d: CreatePin set position %d over %v own ahead %d; QueuePositions: %d %v %d",
				acct, r.Position, r.PositionOver, r.OwnAhead, want.Position, want.PositionOver, want.OwnAhead)
		}
	}
}
