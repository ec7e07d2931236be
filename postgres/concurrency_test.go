package postgres_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/internal/pgtest"
	"github.com/tack-ipfs/tack/postgres"
	"github.com/tack-ipfs/tack/storetest"
)

// twoNodes opens one new database twice, as two tack processes would.
func twoNodes(t *testing.T) (*postgres.DB, *postgres.DB) {
	url := pgtest.NewDatabase(t)
	db1, db2 := MustOpen(t, url), MustOpen(t, url)
	t.Cleanup(func() { db1.Close(); db2.Close() })
	return db1, db2
}

// checkCounters compares the counters that the triggers keep with counts
// of the rows themselves.
func checkCounters(t *testing.T, db *postgres.DB) {
	t.Helper()
	var bad int
	err := db.Pool().QueryRow(t.Context(), `
		SELECT count(*) FROM (
			SELECT account_id, status, n FROM pin_counts WHERE n <> 0
			EXCEPT SELECT account_id, status, count(*) FROM pins GROUP BY account_id, status
		) x`).Scan(&bad)
	if err != nil {
		t.Fatal(err)
	}
	var badBytes int
	err = db.Pool().QueryRow(t.Context(), `
		SELECT count(*) FROM accounts a
		WHERE stored_bytes <> coalesce((
			SELECT sum(b) FROM (SELECT max(bytes) AS b FROM pins p WHERE p.account_id = a.id AND p.status = 'pinned' GROUP BY key) d), 0)`).Scan(&badBytes)
	if err != nil {
		t.Fatal(err)
	}
	if bad != 0 || badBytes != 0 {
		t.Errorf("counters disagree with the rows: %d pin_counts rows, %d accounts' stored_bytes", bad, badBytes)
	}
}

// TestMigrateConcurrently starts several nodes on one new database at
// once: each migration is applied once, and every node opens.
func TestMigrateConcurrently(t *testing.T) {
	// The tests of this file are not parallel: each holds up to 64
	// connections (two pools), and the server allows 100 in all.
	url := pgtest.NewDatabase(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			db, err := postgres.Open(t.Context(), url)
			if err != nil {
				t.Errorf("Open: %v", err)
				return
			}
			db.Close()
		})
	}
	wg.Wait()
	db := MustOpen(t, url)
	defer db.Close()
	var n int
	if err := db.Pool().QueryRow(t.Context(), `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if want := len(postgres.Migrations()); n != want {
		t.Errorf("%d migrations recorded, want %d", n, want)
	}
}

// TestUpgrade opens a database that an older tack made (the first
// migration only, with rows in it): the rest is applied, the rows are
// intact, and the counters the later migration adds count them.
func TestUpgrade(t *testing.T) {
	url := pgtest.NewDatabase(t)
	first := postgres.Migrations()[0]
	old, err := postgres.OpenMigratedTo(t.Context(), url, first)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMicro()
	_, err = old.Pool().Exec(t.Context(), strings.ReplaceAll(`
		INSERT INTO accounts (id, email, access, created, last_created) VALUES (7, 'old@example.com', 'approved', $1, $1 + 3);
		SELECT setval(pg_get_serial_sequence('accounts', 'id'), 7);
		INSERT INTO dags (key, blocks, bytes) VALUES ('k1', 2, 100);
		INSERT INTO pins (id, account_id, cid, key, name, name_lower, origins, meta, status, created, blocks, bytes, progress_at) VALUES
			('p1', 7, 'c1', 'k1', 'One', 'one', '[]', '{"a":"b"}', 'pinned', $1 + 1, 2, 100, $1 + 1),
			('p2', 7, 'c1', 'k1', 'Two', 'two', '[]', 'null', 'pinned', $1 + 2, 2, 100, $1 + 2),
			('p3', 7, 'c3', 'k3', 'Three', 'three', '[]', 'null', 'queued', $1 + 3, 0, 0, $1 + 3)`, "$1", fmt.Sprint(now)),
		pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	var tables int
	old.Pool().QueryRow(t.Context(), `SELECT count(*) FROM information_schema.tables WHERE table_name = 'pin_counts'`).Scan(&tables)
	old.Close()
	if tables != 0 {
		t.Fatalf("the first migration alone made pin_counts")
	}

	db := MustOpen(t, url)
	defer db.Close()
	var versions []string
	rows, err := db.Pool().Query(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var v string
		rows.Scan(&v)
		versions = append(versions, v)
	}
	if !slices.Equal(versions, postgres.Migrations()) {
		t.Errorf("schema_migrations %v, want %v", versions, postgres.Migrations())
	}
	u := storetest.MustFindUsage(t, db, 7)
	if u.Pins[tack.StatusPinned] != 2 || u.Pins[tack.StatusQueued] != 1 || u.Bytes != 100 {
		t.Errorf("usage after the upgrade: %+v", u)
	}
	p1 := storetest.MustFindPin(t, db, 7, "p1")
	if p1.Pin.Name != "One" || p1.Pin.Meta["a"] != "b" || p1.Status != tack.StatusPinned || p1.Bytes != 100 {
		t.Errorf("p1 after the upgrade: %+v", p1)
	}
	pins, n := storetest.MustFindPins(t, db, tack.PinFilter{AccountID: 7, Meta: map[string]string{"a": "b"}})
	if n != 1 || len(pins) != 1 || pins[0].ID != "p1" {
		t.Errorf("meta filter after the upgrade: %d %v", n, pins)
	}
	// New rows go on from the old ones.
	r := storetest.MustCreatePin(t, db, storetest.NewPin(t, 7, "new"))
	if r.Created.UnixMicro() <= now+3 {
		t.Errorf("new request created %v, not after the old ones", r.Created)
	}
	a := storetest.MustCreateAccount(t, db, "new@example.com")
	if a.ID <= 7 {
		t.Errorf("new account id %d", a.ID)
	}
	checkCounters(t, db)
}

// TestTwoNodes runs storetest's two-handle tests on two nodes on one
// database, and checks the triggers' counters after each.
func TestTwoNodes(t *testing.T) {
	storetest.RunTwoHandles(t, func(t *testing.T) (tack.Store, tack.Store) {
		return twoNodes(t)
	}, func(t *testing.T, s tack.Store) {
		checkCounters(t, s.(*postgres.DB))
	})
}
