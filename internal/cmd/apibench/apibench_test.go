package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tack-ipfs/tack/auth"
	tackhttp "github.com/tack-ipfs/tack/http"
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
