package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	nethttp "net/http"
	"strings"
	"sync"
	"testing"
	"time"

	pinclient "github.com/ipfs/boxo/pinning/remote/client"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"

	"github.com/tack-ipfs/tack/http"
	"github.com/tack-ipfs/tack/internal/cartest"
	"github.com/tack-ipfs/tack/internal/testpeer"
	"github.com/tack-ipfs/tack/metrics/metricstest"
)

// mustGet GETs a URL with an optional Bearer token and returns the status
// and the body.
func mustGet(tb testing.TB, url, token string) (int, string) {
	tb.Helper()
	req, err := nethttp.NewRequest("GET", url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := nethttp.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestMetrics pins a DAG through the API, uploads a CAR, reads a block
// through the gateway, deletes the upload's pin and collects, then checks
// that /metrics counted each of them.
func TestMetrics(t *testing.T) {
	t.Parallel()
	dir := tempData(t)
	m := MustOpenMain(t, dir)
	api := "http://" + m.HTTPAddr()
	peer := testpeer.New(t)
	c := m.Client(m.AdminToken)
	ctx := context.Background()

	// No scrape before: the counts of pins are cached for a few seconds
	// from the first. A new server's counters all start at 0.
	before := metricstest.Families{}

	// A pin fetched from a peer.
	fetched := peer.AddFile(t, 256<<10, 16<<10, 1)
	ps, err := c.Add(ctx, fetched, pinclient.PinOpts.WithOrigins(Origins(t, peer)...))
	if err != nil {
		t.Fatal(err)
	}
	WaitStatus(t, c, ps.GetRequestId(), pinclient.StatusPinned, time.Minute)

	// An upload of a whole DAG the peer holds but tack does not.
	uploaded := peer.AddFile(t, 128<<10, 8<<10, 1)
	cids, err := testpeer.AllCIDs(ctx, peer.Blockstore(), uploaded)
	if err != nil {
		t.Fatal(err)
	}
	var blks []blocks.Block
	for _, k := range cids {
		b, err := peer.Blockstore().Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		blks = append(blks, b)
	}
	car := cartest.CAR(t, []cid.Cid{uploaded}, blks...)
	status, res, body := postCAR(t, m.HTTPAddr(), m.AdminToken, "", bytes.NewReader(car), int64(len(car)))
	if status != 200 {
		t.Fatalf("upload: %d %s", status, body)
	}
	// A bad upload.
	if status, _, _ := postCAR(t, m.HTTPAddr(), m.AdminToken, "", strings.NewReader("not a car"), 0); status != 400 {
		t.Errorf("bad upload: got %d, want 400", status)
	}

	// The gateway, once found and once not.
	if status, _ := mustGet(t, api+"/ipfs/"+fetched.String()+"?format=raw", ""); status != 200 {
		t.Errorf("gateway: got %d, want 200", status)
	}
	if status, _ := mustGet(t, api+"/ipfs/"+peer.AddFile(t, 10, 10, 1).String()+"?format=raw", ""); status != 404 {
		t.Errorf("gateway, a block tack lacks: got %d, want 404", status)
	}

	// Garbage: the upload's pin deleted, then collected through the
	// control socket as 'tack gc' does.
	if err := c.DeleteByID(ctx, res.Results[0].RequestID); err != nil {
		t.Fatal(err)
	}
	freedBlocks := freed(t, MustRun(t, "gc", "--data", dir))
	if freedBlocks != len(cids) {
		t.Errorf("gc freed %d blocks, want the upload's %d", freedBlocks, len(cids))
	}

	if status, _ := mustGet(t, api+"/metrics", ""); status != 401 {
		t.Errorf("/metrics without a token: got %d, want 401", status)
	}
	after := metricstest.MustScrape(t, api+"/metrics", m.AdminToken)
	moved := func(name string, labels ...string) float64 {
		t.Helper()
		b, _ := before.Value(name, labels...)
		return after.Get(t, name, labels...) - b
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"tack_http_requests_total", []string{"route", "POST /pins", "code", "202"}, 1},
		{"tack_http_requests_total", []string{"route", "POST /car", "code", "200"}, 1},
		{"tack_http_requests_total", []string{"route", "POST /car", "code", "400"}, 1},
		{"tack_http_requests_total", []string{"route", "DELETE /pins/{requestid}", "code", "202"}, 1},
		{"tack_http_request_duration_seconds", []string{"route", "POST /pins"}, 1},
		{"tack_uploads_total", []string{"outcome", "ok"}, 1},
		{"tack_uploads_total", []string{"outcome", "invalid"}, 1},
		{"tack_gateway_responses_total", []string{"code", "200"}, 1},
		{"tack_gateway_responses_total", []string{"code", "404"}, 1},
		{"tack_pinner_outcomes_total", []string{"outcome", "pinned"}, 1},
		{"tack_gc_runs_total", []string{"outcome", "ok"}, 1},
		{"tack_gc_freed_blocks_total", nil, float64(len(cids))},
		{"tack_errors_total", []string{"source", "store"}, 0},
		{"tack_errors_total", []string{"source", "blockstore"}, 0},
	} {
		if got := moved(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v moved by %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if got := moved("tack_upload_bytes_total"); got < float64(len(car)) {
		t.Errorf("tack_upload_bytes_total moved by %v, want at least the CAR's %d bytes", got, len(car))
	}
	if got := moved("tack_pinner_fetched_bytes_total"); got < 256<<10 {
		t.Errorf("tack_pinner_fetched_bytes_total moved by %v, want at least the pinned file's 256 KiB", got)
	}
	if got := moved("tack_gc_freed_bytes_total"); got < 128<<10 {
		t.Errorf("tack_gc_freed_bytes_total moved by %v, want at least the upload's 128 KiB", got)
	}
	if got := after.Get(t, "tack_pins", "status", "pinned"); got < 1 {
		t.Errorf("tack_pins{status=pinned} = %v, want at least 1", got)
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "tack_pinner_fetches_in_flight", "tack_pinned_bytes"} {
		after.Get(t, name)
	}
	if _, ok := after.Value("tack_http_requests_total", "route", "GET /ipfs/"+fetched.String()); ok {
		t.Error("a raw path is a route label")
	}
}

// TestMetricsListen serves the metrics on an address of their own, open
// to anyone there and absent from the API's address, beside a second tack
// in the same process that serves them on its API's address: each counts
// its own.
func TestMetricsListen(t *testing.T) {
	t.Parallel()
	a := MustOpenMain(t, tempData(t), func(c *Config) { c.MetricsListen = "127.0.0.1:0" })
	b := MustOpenMain(t, tempData(t))
	if a.MetricsAddr() == "" || b.MetricsAddr() != "" {
		t.Fatalf("metrics addresses %q and %q, want one for a only", a.MetricsAddr(), b.MetricsAddr())
	}
	if status, body := mustGet(t, "http://"+a.HTTPAddr()+"/metrics", a.AdminToken); status != 404 {
		t.Errorf("/metrics on the API's address with --metrics-listen: got %d %s, want 404", status, body)
	}
	for range 3 {
		mustGet(t, "http://"+b.HTTPAddr()+"/healthz", "")
	}
	fa := metricstest.MustScrape(t, "http://"+a.MetricsAddr()+"/metrics", "")
	fb := metricstest.MustScrape(t, "http://"+b.HTTPAddr()+"/metrics", b.AdminToken)
	if got, _ := fa.Value("tack_http_requests_total", "route", "GET /healthz"); got != 0 {
		t.Errorf("a counted %v of b's requests", got)
	}
	if got := fb.Get(t, "tack_http_requests_total", "route", "GET /healthz", "code", "200"); got != 3 {
		t.Errorf("b counted %v requests to /healthz, want 3", got)
	}
}

// TestReadyz checks /healthz and /readyz: ready, then draining, then with
// the store closed.
func TestReadyz(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, tempData(t))
	api := "http://" + m.HTTPAddr()
	if status, body := mustGet(t, api+"/healthz", ""); status != 200 || body != "ok\n" {
		t.Errorf("/healthz: got %d %q", status, body)
	}
	ready := func() (int, map[string]string) {
		t.Helper()
		status, body := mustGet(t, api+"/readyz", "")
		var st struct {
			Ready  bool              `json:"ready"`
			Failed map[string]string `json:"failed"`
		}
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatalf("/readyz: %v: %q", err, body)
		}
		if st.Ready != (status == 200) {
			t.Errorf("/readyz: status %d with ready %v", status, st.Ready)
		}
		return status, st.Failed
	}
	if status, failed := ready(); status != 200 {
		t.Errorf("ready: got %d %v", status, failed)
	}
	m.Drain()
	if status, failed := ready(); status != 503 || failed["draining"] == "" {
		t.Errorf("draining: got %d %v, want 503 naming draining", status, failed)
	}
	m.draining.Store(false)
	m.DB.Close()
	// The checks' last answers are reused for a while.
	time.Sleep(http.DefaultReadyCache + 100*time.Millisecond)
	if status, failed := ready(); status != 503 || failed["store"] == "" || len(failed) != 1 {
		t.Errorf("store closed: got %d %v, want 503 naming the store only", status, failed)
	}
}

// syncBuffer is a bytes.Buffer that goroutines may write at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLogFormatJSON runs tack with --log-format json: every line it logs
// is a JSON object with a message.
func TestLogFormatJSON(t *testing.T) {
	t.Parallel()
	m := NewMain()
	var logs syncBuffer
	m.Stdout, m.Stderr = io.Discard, &logs
	err := m.ParseFlags([]string{
		"--data", tempData(t), "--listen", "127.0.0.1:0", "--p2p-listen", "/ip4/127.0.0.1/tcp/0",
		"--bootstrap", "none", "--dht", "off", "--log-format", "json",
	}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Open(context.Background()); err != nil {
		m.Close()
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	n := 0
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Errorf("not JSON: %q: %v", sc.Text(), err)
			continue
		}
		if line["msg"] == nil || line["level"] == nil {
			t.Errorf("no msg or level: %q", sc.Text())
		}
		n++
	}
	if n == 0 || !strings.Contains(logs.String(), `"msg":"tack is serving"`) {
		t.Errorf("logged %d lines, want at least \"tack is serving\":\n%s", n, logs.String())
	}
}
