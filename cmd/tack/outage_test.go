package main

import (
	"encoding/json"
	"errors"
	"io"
	nethttp "net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/http"
	"github.com/tack-ipfs/tack/internal/pgtest"
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
	m := MustOpenMain(t, tempData(t), func(c *Config) { c.Store = pg.URL() })
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

// mountTmpfs mounts a tmpfs of size bytes on dir until tb ends, or skips
// tb where mounting is not permitted (not root, or no CAP_SYS_ADMIN).
func mountTmpfs(tb testing.TB, dir string, size int64) {
	tb.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		tb.Fatal(err)
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.FormatInt(size, 10), "tmpfs", dir).CombinedOutput()
	if err != nil {
		tb.Skipf("cannot mount a tmpfs here (needs root): %v: %s", err, out)
	}
	tb.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			tb.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
}

// fill writes a file in dir until the filesystem has no room left, and
// returns its path.
func fill(tb testing.TB, dir string) string {
	tb.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			tb.Fatal(err)
		}
	}
	// The last bytes too, a page at a time.
	for _, err := f.Write(buf[:4096]); err == nil; _, err = f.Write(buf[:4096]) {
	}
	return path
}

// TestOutageSQLiteFull puts tack's SQLite database on a small tmpfs and
// fills it: a POST /pins that SQLite cannot commit answers 503 with
// Retry-After and details saying the metadata store has no room, never
// 500; reads answer, or say the same; once room is made, writes succeed
// again without a restart.
func TestOutageSQLiteFull(t *testing.T) {
	t.Parallel()
	small := filepath.Join(t.TempDir(), "small")
	mountTmpfs(t, small, 32<<20)
	m := MustOpenMain(t, tempData(t), func(c *Config) { c.Store = "sqlite://" + filepath.Join(small, "tack.db") })
	api := "http://" + m.HTTPAddr()
	filler := fill(t, small)
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
