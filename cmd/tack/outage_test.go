package main

import (
	"encoding/json"
	"io"
	nethttp "net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/http"
	"github.com/tack-ipfs/tack/internal/diskspace/diskspacetest"
	"github.com/tack-ipfs/tack/internal/miniotest"
	"github.com/tack-ipfs/tack/internal/pgtest"
	"github.com/tack-ipfs/tack/metrics/metricstest"
)

// answer is one HTTP answer: its status, headers and body.
type answer struct {
	status int
	header nethttp.Header
	body   string
}

// call sends a request with an optional Bearer token and JSON body.
func call(tb testing.TB, c *nethttp.Client, method, url, token, body string) answer {
	tb.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := nethttp.NewRequest(method, url, r)
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c == nil {
		c = nethttp.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, string(b)}
}

// mustBeUnavailable checks that a is the API's 503 for an outage: the
// error format, details that say msg, and a Retry-After.
func mustBeUnavailable(tb testing.TB, what string, a answer, msg string) {
	tb.Helper()
	if a.status != nethttp.StatusServiceUnavailable {
		tb.Errorf("%s: status %d, want 503: %s", what, a.status, a.body)
		return
	}
	if a.header.Get("Retry-After") == "" {
		tb.Errorf("%s: 503 without Retry-After", what)
	}
	var f http.Failure
	if err := json.Unmarshal([]byte(a.body), &f); err != nil {
		tb.Errorf("%s: body not in the error format: %v: %q", what, err, a.body)
		return
	}
	if f.Error.Reason != "SERVICE_UNAVAILABLE" || f.Error.Details != msg {
		tb.Errorf("%s: error %+v, want SERVICE_UNAVAILABLE %q", what, f.Error, msg)
	}
}

// outageCID is a CID that no peer has: its requests stay queued.
func outageCID(tb testing.TB, s string) string {
	h, err := multihash.Sum([]byte(s), multihash.SHA2_256, -1)
	if err != nil {
		tb.Fatal(err)
	}
	return cid.NewCidV1(cid.Raw, h).String()
}

// TestOutagePostgresDown stops tack's PostgreSQL (a private one) under a
// running tack: every API call answers 503 with Retry-After and details
// naming the metadata store, the web pages show the same on an error
// page, /readyz says which check failed and /healthz stays up; once
// PostgreSQL is back, the same calls succeed without a restart.
func TestOutagePostgresDown(t *testing.T) {
	t.Parallel()
	pg := pgtest.StartPrivate(t)
	m := MustOpenMain(t, tempData(t), func(c *Config) { c.Store = pg.URL(); c.MetricsListen = "127.0.0.1:0" })
	api := "http://" + m.HTTPAddr()
	web := newWebClient(t)
	web.signIn(t, m.HTTPAddr(), "admin", m.AdminPassword)

	created := call(t, nil, "POST", api+"/pins", m.AdminToken, `{"cid":"`+outageCID(t, "pg outage")+`"}`)
	if created.status != nethttp.StatusAccepted {
		t.Fatalf("POST /pins: %d %s", created.status, created.body)
	}
	var st struct{ RequestID string }
	if err := json.Unmarshal([]byte(created.body), &st); err != nil || st.RequestID == "" {
		t.Fatalf("POST /pins: %v: %s", err, created.body)
	}

	pg.Stop(t)
	calls := []struct{ method, path, body string }{
		{"GET", "/pins", ""},
		{"POST", "/pins", `{"cid":"` + outageCID(t, "while down") + `"}`},
		{"GET", "/pins/" + st.RequestID, ""},
		{"POST", "/pins/" + st.RequestID, `{"cid":"` + outageCID(t, "replaced while down") + `"}`},
		{"DELETE", "/pins/" + st.RequestID, ""},
	}
	for _, c := range calls {
		a := call(t, nil, c.method, api+c.path, m.AdminToken, c.body)
		mustBeUnavailable(t, c.method+" "+c.path+" with PostgreSQL down", a, tack.MsgStoreUnavailable)
	}
	page := call(t, web.c, "GET", api+"/dashboard", "", "")
	if page.status != nethttp.StatusServiceUnavailable || page.header.Get("Retry-After") == "" ||
		!strings.Contains(page.header.Get("Content-Type"), "text/html") ||
		!strings.Contains(page.body, "the metadata store is unavailable") {
		t.Errorf("the pins page with PostgreSQL down: %d, Retry-After %q, %s:\n%s", page.status, page.header.Get("Retry-After"), page.header.Get("Content-Type"), page.body)
	}
	if ready := call(t, nil, "GET", api+"/readyz", "", ""); ready.status != nethttp.StatusServiceUnavailable || !strings.Contains(ready.body, `"store"`) {
		t.Errorf("/readyz with PostgreSQL down: %d %s", ready.status, ready.body)
	}
	if health := call(t, nil, "GET", api+"/healthz", "", ""); health.status != nethttp.StatusOK {
		t.Errorf("/healthz with PostgreSQL down: %d %s", health.status, health.body)
	}
	// On --metrics-listen, which needs no token from the store: the
	// outage's answers are counted as the store's errors.
	scraped := metricstest.MustScrape(t, "http://"+m.MetricsAddr()+"/metrics", "")
	if v := scraped.Get(t, "tack_errors_total", "source", "store"); v < float64(len(calls)+1) {
		t.Errorf(`tack_errors_total{source="store"} = %v after %d answers of an outage, want at least as many`, v, len(calls)+1)
	}
	if v := scraped.Get(t, "tack_ready", "check", "store"); v != 0 {
		t.Errorf(`tack_ready{check="store"} = %v with PostgreSQL down, want 0`, v)
	}

	pg.Start(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		a := call(t, nil, "GET", api+"/pins/"+st.RequestID, m.AdminToken, "")
		if a.status == nethttp.StatusOK {
			break
		}
		if a.status != nethttp.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("GET /pins/{id} after PostgreSQL came back: %d %s", a.status, a.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if page := call(t, web.c, "GET", api+"/dashboard", "", ""); page.status != nethttp.StatusOK {
		t.Errorf("the pins page after PostgreSQL came back: %d", page.status)
	}
}

// TestOutageSQLiteFull puts tack's SQLite database on a small tmpfs and
// fills it: a POST /pins that SQLite cannot commit answers 503 with
// Retry-After and details saying the metadata store has no room, never
// 500; reads answer, or say the same; once room is made, writes succeed
// again without a restart.
func TestOutageSQLiteFull(t *testing.T) {
	t.Parallel()
	small := diskspacetest.MustMount(t, 32<<20)
	m := MustOpenMain(t, tempData(t), func(c *Config) { c.Store = "sqlite://" + filepath.Join(small, "tack.db") })
	api := "http://" + m.HTTPAddr()
	filler := filepath.Join(small, "filler")
	diskspacetest.MustFill(t, filler)
	defer os.Remove(filler) // before Close, which checkpoints

	// SQLite reuses the room its log already has: some writes may fit.
	// Writing on, one of them meets the full disk.
	full := false
	for i := 0; i < 2000 && !full; i++ {
		a := call(t, nil, "POST", api+"/pins", m.AdminToken, `{"cid":"`+outageCID(t, "full "+strconv.Itoa(i))+`","name":"`+strings.Repeat("n", 200)+`"}`)
		switch a.status {
		case nethttp.StatusAccepted:
		case nethttp.StatusServiceUnavailable:
			mustBeUnavailable(t, "POST /pins on a full disk", a, tack.MsgStoreFull)
			full = true
		default:
			t.Fatalf("POST /pins on a full disk: %d %s", a.status, a.body)
		}
	}
	if !full {
		t.Fatal("2000 requests fitted on a full disk")
	}
	for _, path := range []string{"/pins", "/pins?status=queued,pinning,pinned,failed&limit=1000"} {
		a := call(t, nil, "GET", api+path, m.AdminToken, "")
		if a.status != nethttp.StatusOK {
			mustBeUnavailable(t, "GET "+path+" on a full disk", a, tack.MsgStoreFull)
		}
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if a := call(t, nil, "POST", api+"/pins", m.AdminToken, `{"cid":"`+outageCID(t, "room again")+`"}`); a.status != nethttp.StatusAccepted {
		t.Errorf("POST /pins once room is made: %d %s", a.status, a.body)
	}
}

// mustReady GETs /readyz within limit, and checks its status and, when
// not ready, that the check named failed is among what its body names.
func mustReady(tb testing.TB, api string, limit time.Duration, want int, failed string) ReadyBody {
	tb.Helper()
	start := time.Now()
	a := call(tb, &nethttp.Client{Timeout: limit}, "GET", api+"/readyz", "", "")
	took := time.Since(start)
	var body ReadyBody
	if err := json.Unmarshal([]byte(a.body), &body); err != nil {
		tb.Fatalf("/readyz: %v: %q", err, a.body)
	}
	if a.status != want {
		tb.Fatalf("/readyz: %d after %v, want %d: %s", a.status, took, want, a.body)
	}
	if failed != "" && body.Failed[failed] == "" {
		tb.Errorf("/readyz: %s is not among what failed: %s", failed, a.body)
	}
	if want == nethttp.StatusServiceUnavailable && a.header.Get("Retry-After") == "" {
		tb.Error("/readyz: 503 without Retry-After")
	}
	return body
}

// ReadyBody is /readyz's answer.
type ReadyBody = http.ReadyStatus

// TestReadyzBucketFrozen freezes the MinIO (SIGSTOP) under a tack with S3
// blocks: /readyz answers 503 naming the bucket within its deadline, and
// tack_ready{check="bucket"} says 0; thawed, both say ready again.
func TestReadyzBucketFrozen(t *testing.T) {
	// Not parallel: MinIO's start-up already times out on a loaded
	// machine.
	srv := miniotest.Start(t)
	m := mustOpenMainS3(t, tempData(t), srv, srv.URL("tack/ready"))
	api := "http://" + m.HTTPAddr()
	mustReady(t, api, 5*time.Second, nethttp.StatusOK, "")
	if v := metricstest.MustScrape(t, api+"/metrics", m.AdminToken).Get(t, "tack_ready", "check", "bucket"); v != 1 {
		t.Errorf(`tack_ready{check="bucket"} = %v with MinIO up, want 1`, v)
	}

	srv.Pause(t)
	// Past the cache of the last answer (1s); then one timeout (2s) of
	// the check, and some slack for a loaded machine.
	time.Sleep(1100 * time.Millisecond)
	body := mustReady(t, api, 2*http.DefaultReadyTimeout, nethttp.StatusServiceUnavailable, "bucket")
	if body.Failed["bucket"] != "no answer within "+http.DefaultReadyTimeout.String() {
		t.Errorf("/readyz with the bucket frozen says %q", body.Failed["bucket"])
	}
	if v := metricstest.MustScrape(t, api+"/metrics", m.AdminToken).Get(t, "tack_ready", "check", "bucket"); v != 0 {
		t.Errorf(`tack_ready{check="bucket"} = %v with MinIO frozen, want 0`, v)
	}

	srv.Resume(t)
	deadline := time.Now().Add(10 * time.Second)
	for call(t, nil, "GET", api+"/readyz", "", "").status != nethttp.StatusOK {
		if time.Now().After(deadline) {
			mustReady(t, api, 5*time.Second, nethttp.StatusOK, "")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestReadyzDiskBelowMinFree runs tack with a --min-free that the data
// directory's disk does not have: /readyz answers 503 naming the disk and
// saying how much is free, and tack_ready{check="disk"} says 0; the API
// still answers reads.
func TestReadyzDiskBelowMinFree(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, tempData(t), func(c *Config) { c.MinFree = 1 << 60 })
	api := "http://" + m.HTTPAddr()
	body := mustReady(t, api, 5*time.Second, nethttp.StatusServiceUnavailable, "disk")
	if msg := body.Failed["disk"]; !strings.Contains(msg, "under --min-free 1.0EiB: not ready for writes") {
		t.Errorf("/readyz says %q", msg)
	}
	if len(body.Failed) != 1 {
		t.Errorf("/readyz: more than the disk failed: %v", body.Failed)
	}
	if v := metricstest.MustScrape(t, api+"/metrics", m.AdminToken).Get(t, "tack_ready", "check", "disk"); v != 0 {
		t.Errorf(`tack_ready{check="disk"} = %v, want 0`, v)
	}
	if v := metricstest.MustScrape(t, api+"/metrics", m.AdminToken).Get(t, "tack_ready", "check", "store"); v != 1 {
		t.Errorf(`tack_ready{check="store"} = %v, want 1`, v)
	}
	if a := call(t, nil, "GET", api+"/pins", m.AdminToken, ""); a.status != nethttp.StatusOK {
		t.Errorf("GET /pins: %d %s", a.status, a.body)
	}
}

// TestStartWithPostgresDown starts tack on a PostgreSQL that is not
// running yet: it exits at once (well within a supervisor's start
// timeout) with an error that says PostgreSQL does not answer, and starts
// once PostgreSQL is up, as a supervisor's restart would find it.
func TestStartWithPostgresDown(t *testing.T) {
	t.Parallel()
	pg := pgtest.NewPrivate(t)
	dir := tempData(t)
	m := NewMain()
	m.Stdout, m.Stderr = io.Discard, io.Discard
	if err := m.ParseFlags([]string{"--data", dir, "--store", pg.URL(), "--listen", "127.0.0.1:0",
		"--p2p-listen", "/ip4/127.0.0.1/tcp/0", "--bootstrap", "none", "--dht", "off"}, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := m.Open(t.Context())
	m.Close()
	if err == nil {
		t.Fatal("tack started on a PostgreSQL that is down")
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("tack took %v to give up on a PostgreSQL that is down", took)
	}
	if msg := err.Error(); !strings.Contains(msg, "opening the metadata store postgres://") ||
		!strings.Contains(msg, "PostgreSQL does not answer (is it running, and reachable from here?)") ||
		!strings.Contains(msg, "connect") {
		t.Errorf("tack's error with PostgreSQL down: %s", msg)
	}

	pg.Start(t)
	m2 := MustOpenMain(t, dir, func(c *Config) { c.Store = pg.URL() })
	if a := call(t, nil, "GET", "http://"+m2.HTTPAddr()+"/pins", m2.AdminToken, ""); a.status != nethttp.StatusOK {
		t.Errorf("GET /pins once PostgreSQL is up: %d %s", a.status, a.body)
	}
}
