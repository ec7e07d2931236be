package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/sqlite"
	"github.com/tack-ipfs/tack/storetest"
)

func TestStore(t *testing.T) {
	t.Parallel()
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

// TestTwoHandles runs storetest's two-handle tests on two handles on one
// file, as tack serve and tack account create open it.
func TestTwoHandles(t *testing.T) {
	t.Parallel()
	storetest.RunTwoHandles(t, func(t *testing.T) (tack.Store, tack.Store) {
		path := filepath.Join(t.TempDir(), "tack.db")
		db1, db2 := MustOpen(t, path), MustOpen(t, path)
		t.Cleanup(func() { db1.Close(); db2.Close() })
		return db1, db2
	}, nil)
}

// TestReopen checks that what was written survives closing the database,
// and that opening it again applies no migration twice.
func TestReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tack.db")
	db := MustOpen(t, path)
	a := storetest.MustCreateAccount(t, db, "persist@example.com")
	tok := storetest.MustCreateToken(t, db, a.ID, "laptop")
	r := storetest.NewPin(t, a.ID, "kept")
	r.Pin.Meta = map[string]string{"k": "v"}
	storetest.MustCreatePin(t, db, r)
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	for range 2 {
		db = MustOpen(t, path)
		if got, err := db.FindAccountByEmail(t.Context(), a.Email); err != nil || *got != *a {
			t.Errorf("after reopen FindAccountByEmail = %+v, %v; want %+v", got, err, a)
		}
		if got := storetest.MustFindToken(t, db, tok.ID); *got != *tok {
			t.Errorf("after reopen FindTokenByID = %+v, want %+v", got, tok)
		}
		got := storetest.MustFindPin(t, db, a.ID, r.ID)
		if got.Pin.Name != r.Pin.Name || !maps.Equal(got.Pin.Meta, r.Pin.Meta) || !got.Created.Equal(r.Created) {
			t.Errorf("after reopen FindPinByID = %+v, want %+v", got, r)
		}
		// created stays increasing across restarts.
		next := storetest.MustCreatePin(t, db, storetest.NewPin(t, a.ID, "next"))
		if !next.Created.After(r.Created) {
			t.Errorf("Created %v after reopen not after %v", next.Created, r.Created)
		}
		r = next
		if err := db.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
}

// TestUpgrade opens a database made by the first version of the schema:
// its accounts come through the later migrations unblocked and without a
// password, and the new tables work.
func TestUpgrade(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tack.db")
	schema, err := os.ReadFile("migration/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	old, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE migrations (name TEXT PRIMARY KEY)`,
		string(schema),
		`INSERT INTO migrations (name) VALUES ('migration/0001_init.sql')`,
		`INSERT INTO accounts (email, admin, access, created) VALUES ('old@example.com', 1, 'approved', 1000000)`,
	} {
		if _, err := old.Exec(q); err != nil {
			t.Fatalf("%.40s: %v", q, err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	db := MustOpen(t, path)
	defer db.Close()
	got, err := db.FindAccountByEmail(t.Context(), "old@example.com")
	if err != nil {
		t.Fatalf("FindAccountByEmail: %v", err)
	}
	want := tack.Account{ID: got.ID, Email: "old@example.com", Admin: true, Access: tack.AccessApproved, Created: time.UnixMicro(1000000).UTC()}
	if *got != want {
		t.Errorf("upgraded account = %+v, want %+v", got, want)
	}
	if err := db.RequestAccess(t.Context(), &tack.AccessRequest{AccountID: got.ID, What: "more"}); err != nil {
		t.Errorf("RequestAccess after the upgrade: %v", err)
	}
	storetest.MustCreateSession(t, db, got.ID, time.Now().Add(time.Hour))
	storetest.MustCreateInvite(t, db, got.ID, time.Now().Add(time.Hour))
}

// TestClock checks that the store takes its time from Now, and that
// requests created in one microsecond get distinct created times.
func TestClock(t *testing.T) {
	t.Parallel()
	db := MustOpen(t, filepath.Join(t.TempDir(), "tack.db"))
	defer db.Close()
	now := time.Date(2026, 11, 23, 10, 0, 0, 123456789, time.FixedZone("CET", 3600))
	db.Now = func() time.Time { return now }

	a := storetest.MustCreateAccount(t, db, "clock@example.com")
	want := time.Date(2026, 11, 23, 9, 0, 0, 123456000, time.UTC)
	if !a.Created.Equal(want) || a.Created.Location() != time.UTC {
		t.Errorf("account Created = %v, want %v", a.Created, want)
	}
	for i := range 3 {
		r := storetest.MustCreatePin(t, db, storetest.NewPin(t, a.ID, fmt.Sprint(i)))
		if got, want := r.Created, want.Add(time.Duration(i)*time.Microsecond); !got.Equal(want) {
			t.Errorf("pin %d: Created = %v, want %v", i, got, want)
		}
	}

	// A lease that ends before Now is claimable; one that ends after is not.
	r := storetest.MustCreatePin(t, db, storetest.NewPin(t, a.ID, "leased"))
	storetest.MustClaim(t, db, "w1", 10, now.Add(time.Second))
	if got := storetest.MustClaim(t, db, "w2", 10, now.Add(time.Hour)); len(got) != 0 {
		t.Errorf("ClaimPins before the leases end = %d requests, want 0", len(got))
	}
	now = now.Add(2 * time.Second)
	got := storetest.MustClaim(t, db, "w2", 10, now.Add(time.Hour))
	if len(got) != 4 || got[3].ID != r.ID {
		t.Errorf("ClaimPins after the leases end = %d requests, want 4 ending with %s", len(got), r.ID)
	}
}

// TestGroupCommit: writes that arrive together are committed together, yet
// each succeeds or fails alone. A request with a requestid that exists
// fails after it has already written (the account's last created time);
// that write must be undone without undoing the others', and a write
// whose context is cancelled must not take the others with it.
func TestGroupCommit(t *testing.T) {
	t.Parallel()
	db := MustOpen(t, filepath.Join(t.TempDir(), "tack.db"))
	defer db.Close()
	a := storetest.MustCreateAccount(t, db, "group@example.com")
	taken := storetest.MustCreatePin(t, db, storetest.NewPin(t, a.ID, "taken"))

	const n = 200
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			r := storetest.NewPin(t, a.ID, fmt.Sprintf("p%d", i))
			ctx := t.Context()
			switch i % 10 {
			case 3:
				r.ID = taken.ID // fails after writing
			case 7:
				c, cancel := context.WithCancel(ctx)
				cancel()
				ctx = c
			}
			errs[i] = db.CreatePin(ctx, r)
		})
	}
	wg.Wait()
	stored := 1
	for i, err := range errs {
		switch i % 10 {
		case 3:
			if tack.ErrorCode(err) != tack.ECONFLICT {
				t.Errorf("write %d with a taken id: %v, want ECONFLICT", i, err)
			}
		case 7:
			if err == nil {
				stored++ // it may have run before its context was cancelled
			}
		default:
			if err != nil {
				t.Errorf("write %d: %v", i, err)
			}
			stored++
		}
	}
	_, count := storetest.MustFindPins(t, db, tack.PinFilter{AccountID: a.ID, Statuses: []tack.Status{tack.StatusQueued}})
	_, slow := storetest.MustFindPins(t, db, tack.PinFilter{AccountID: a.ID, Statuses: []tack.Status{tack.StatusQueued}, Name: new(string), Match: tack.MatchPartial})
	if count != stored || slow != stored {
		t.Errorf("%d requests counted (%d by reading them), want %d", count, slow, stored)
	}
}
