package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/auth"
	tackhttp "github.com/tack-ipfs/tack/http"
	"github.com/tack-ipfs/tack/internal/testpeer"
	"github.com/tack-ipfs/tack/sqlite"
)

// TestBench seeds a store of 2,000 requests, copies it as -reuse does and
// runs every scenario for half a second against the API served in this
// process (building and starting tack serve would take longer than the
// rest), so that the bench keeps working. It checks what was run and
// reported, never how fast.
func TestBench(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bench")
	var out bytes.Buffer
	c := Config{
		N: 2000, Accounts: 4, BigShare: 0.5, SeedVia: "sql", Dir: dir, SeedOnly: true,
		Duration: 500 * time.Millisecond, Scenarios: scenarioNames,
		FloorRate: 20, PostRate: 20, ListRate: 4, StatRate: 20, Conns: 20, ConnEvery: 250 * time.Millisecond,
		Profile: true, Stdout: &out,
	}
	if _, err := Run(t.Context(), c); err != nil {
		t.Fatalf("seeding: %v\n%s", err, out.String())
	}
	seed, err := LoadSeed(dir)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, a := range append(seed.Small, seed.Big) {
		total += a.Pins
		if len(a.Sample) == 0 {
			t.Errorf("%s: no sample of request IDs", a.Email)
		}
	}
	if total != c.N || len(seed.Small) != c.Accounts {
		t.Fatalf("seeded %d requests and %d small accounts, want %d and %d", total, len(seed.Small), c.N, c.Accounts)
	}

	c.Dir = filepath.Join(dir, "run")
	if err := copyData(dataDir(dir), dataDir(c.Dir)); err != nil {
		t.Fatal(err)
	}
	srv := serveInProcess(t, dataDir(c.Dir))
	results, err := RunScenarios(t.Context(), c, srv, seed)
	if err != nil {
		t.Fatal(err)
	}
	Report(&out, c, seed, srv, results)
	t.Log(out.String())
	if len(results) != len(scenarioNames) {
		t.Fatalf("%d results, want %d", len(results), len(scenarioNames))
	}
	for _, r := range results {
		if r.Metrics.Requests == 0 || r.PeakRSS == 0 {
			t.Errorf("%s: %d requests, peak RSS %d", r.Name, r.Metrics.Requests, r.PeakRSS)
		}
		if n := r.Metrics.StatusCodes["0"]; n > 0 {
			t.Errorf("%s: %d requests without an answer: %v", r.Name, n, r.Metrics.Errors)
		}
		if strings.Contains(r.Note, "!") {
			t.Errorf("%s: %s", r.Name, r.Note)
		}
	}
	for _, want := range []string{"p99/floor", "floor (again)", "conns", "CPU profile of the server under post", "flat%"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(c.Dir, "post.cpu.pprof")); err != nil {
		t.Error(err)
	}
}

// TestSeedViaStore: the slow seeding through CreatePin, for a changed
// schema, makes a store that verify accepts.
func TestSeedViaStore(t *testing.T) {
	c := Config{N: 50, Accounts: 3, BigShare: 0.5, SeedVia: "store", Dir: t.TempDir()}
	seed, err := SeedStore(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	if n := seed.Big.Pins + seed.Small[0].Pins + seed.Small[1].Pins + seed.Small[2].Pins; n != c.N {
		t.Errorf("seeded %d requests, want %d", n, c.N)
	}
}

// serveInProcess serves the API on the store in data, as tack serve would
// with --rate-limit off, and net/http/pprof beside it.
func serveInProcess(tb testing.TB, data string) *Server {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(data, "tack.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	key, err := auth.SigningKey(ctx, db, "")
	if err != nil {
		tb.Fatal(err)
	}
	limit, _ := tackhttp.ParseRateLimit("off")
	api := &tackhttp.Server{
		Store:     db,
		Auth:      auth.New(db, key),
		Delegates: func() []string { return []string{kuboOrigins[0]} },
		RateLimit: limit,
	}
	ts := httptest.NewServer(api.Handler())
	tb.Cleanup(ts.Close)
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	ps := httptest.NewServer(mux)
	tb.Cleanup(ps.Close)
	return &Server{URL: ts.URL, PProfURL: ps.URL + "/debug/pprof/", Bin: "(in-process)"}
}

// TestBusy: -busy seeds an account of its own with queued requests, older
// than the others, for DAGs that its peer serves with the peer as their
// origin, and list-busy lists that account. The API here has no pinner,
// so nothing is pinned meanwhile.
func TestBusy(t *testing.T) {
	ctx := t.Context()
	peer, cids, err := startBusyPeer(ctx, 20)
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	c := Config{N: 30, Accounts: 2, BigShare: 0.5, SeedVia: "sql", Dir: t.TempDir(), Busy: 20,
		busyCIDs: cids, busyOrigins: peer.Addrs(),
		Duration: 500 * time.Millisecond, Scenarios: []string{busyScenario},
		FloorRate: 20, PostRate: 1, ListRate: 4, StatRate: 1, Conns: 1, ConnEvery: time.Second}
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
	seed, err := SeedStore(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if seed.Busy == nil || seed.Busy.Pins != 20 {
		t.Fatalf("busy account %+v, want 20 requests", seed.Busy)
	}

	db, err := sqlite.Open(ctx, filepath.Join(dataDir(c.Dir), "tack.db"))
	if err != nil {
		t.Fatal(err)
	}
	queue, _, err := db.FindPins(ctx, tack.PinFilter{AccountID: seed.Big.ID, Statuses: []tack.Status{tack.StatusQueued}, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	busy, _, err := db.FindPins(ctx, tack.PinFilter{AccountID: seed.Busy.ID, Statuses: []tack.Status{tack.StatusQueued}, Limit: 1000})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(busy) != 20 || len(queue) == 0 || !busy[0].Created.Before(queue[len(queue)-1].Created) {
		t.Fatalf("%d busy requests, the newest made %v; the big account's newest %v", len(busy), busy[0].Created, queue[len(queue)-1].Created)
	}
	want := map[string]bool{}
	for _, c := range cids {
		want[c.String()] = true
	}
	for _, p := range busy {
		if !want[p.Pin.CID] || !slices.Equal(p.Pin.Origins, peer.Addrs()) {
			t.Fatalf("busy request for %s from %v, not one of the peer's DAGs from %v", p.Pin.CID, p.Pin.Origins, peer.Addrs())
		}
	}
	if n, err := testpeer.New(t).FetchDAG(ctx, cids[0], peer.Addrs()); err != nil || n != 1 {
		t.Fatalf("fetched %d blocks of %s from the peer: %v", n, cids[0], err)
	}

	srv := serveInProcess(t, dataDir(c.Dir))
	results, err := RunScenarios(ctx, c, srv, seed)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || results[0].Metrics.Requests == 0 || results[0].Metrics.Success != 1 ||
		!strings.Contains(results[0].Note, "pinned 0 meanwhile") {
		t.Fatalf("results %+v", results)
	}
}

// TestBusyNote: a pinner that runs out of requests before the scenario
// ends is said to, since its rate is then only a floor.
func TestBusyNote(t *testing.T) {
	working := busyNote(100, 300, 1000, 10)
	if working != "the pinner pinned 200 meanwhile (20/s), 300 of 1000 at the end" {
		t.Errorf("still working: %q", working)
	}
	done := busyNote(100, 1000, 1000, 10)
	if !strings.HasPrefix(done, "the pinner pinned 900 meanwhile (90/s), 1000 of 1000 at the end; ") ||
		!strings.Contains(done, "ran out of requests") || !strings.Contains(done, "-busy") {
		t.Errorf("ran out: %q", done)
	}
}
