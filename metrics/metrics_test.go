package metrics_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/metrics"
	"github.com/tack-ipfs/tack/metrics/metricstest"
)

// scrape serves m's metrics and reads them once.
func scrape(tb testing.TB, m *metrics.Metrics) metricstest.Families {
	tb.Helper()
	ts := httptest.NewServer(m.Handler())
	defer ts.Close()
	return metricstest.MustScrape(tb, ts.URL, "")
}

// TestTwoInOneProcess makes two Metrics with every collector: nothing is
// registered globally, so they do not collide, and each counts its own.
func TestTwoInOneProcess(t *testing.T) {
	a, b := metrics.New(), metrics.New()
	for _, m := range []*metrics.Metrics{a, b} {
		m.WatchPins(func(context.Context) (map[int64]*tack.Usage, error) { return nil, nil }, 0, nil)
		m.WatchPinner(func() tack.PinnerStats { return tack.PinnerStats{StoreErrors: 2} })
		m.WatchProvide(func() tack.ProvideStats { return tack.ProvideStats{} })
		m.WatchGC(func() tack.GCStats { return tack.GCStats{} })
	}
	a.Error(metrics.SourceBlockstore)
	if got := scrape(t, a).Get(t, "tack_errors_total", "source", "blockstore"); got != 1 {
		t.Errorf("a: tack_errors_total{source=blockstore} = %v, want 1", got)
	}
	if got := scrape(t, b).Get(t, "tack_errors_total", "source", "blockstore"); got != 0 {
		t.Errorf("b: tack_errors_total{source=blockstore} = %v, want 0", got)
	}
	if got := scrape(t, b).Get(t, "tack_errors_total", "source", "store"); got != 2 {
		t.Errorf("b: tack_errors_total{source=store} = %v, want the pinner's 2", got)
	}
}

func TestNilIsSafe(t *testing.T) {
	var m *metrics.Metrics
	m.Error(metrics.SourceStore)
	m.Upload("ok", 1)
	m.WatchGC(func() tack.GCStats { return tack.GCStats{} })
	h := http.NotFoundHandler()
	if m.HTTP(h) == nil || m.Gateway(h) == nil {
		t.Error("a nil Metrics returned a nil handler")
	}
}

func TestHTTPRoutes(t *testing.T) {
	m := metrics.New()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /pins/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotFound) })
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("fine")) })
	ts := httptest.NewServer(m.HTTP(mux))
	defer ts.Close()
	for _, p := range []string{"/pins/a", "/pins/b", "/ok", "/unknown"} {
		resp, err := http.Get(ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	f := scrape(t, m)
	for _, c := range []struct {
		route, code string
		want        float64
	}{
		{"GET /pins/{id}", "404", 2},
		{"GET /ok", "200", 1},
		{"", "404", 1},
	} {
		if got := f.Get(t, "tack_http_requests_total", "route", c.route, "code", c.code); got != c.want {
			t.Errorf("tack_http_requests_total{route=%q,code=%q} = %v, want %v", c.route, c.code, got, c.want)
		}
	}
	if got := f.Get(t, "tack_http_request_duration_seconds", "route", "GET /pins/{id}"); got != 2 {
		t.Errorf("duration count for GET /pins/{id} = %v, want 2", got)
	}
}

// TestWatchPinsCaches checks that scrapes within the TTL do not read the
// store again, and that a failed read keeps the last counts and counts a
// store error.
func TestWatchPinsCaches(t *testing.T) {
	m := metrics.New()
	var reads atomic.Int32
	var fail atomic.Bool
	m.WatchPins(func(context.Context) (map[int64]*tack.Usage, error) {
		reads.Add(1)
		if fail.Load() {
			return nil, errors.New("store down")
		}
		return map[int64]*tack.Usage{
			1: {Pins: map[tack.Status]int{tack.StatusQueued: 2, tack.StatusPinned: 1}, Bytes: 100},
			2: {Pins: map[tack.Status]int{tack.StatusPinned: 3, tack.StatusFailed: 1}, Bytes: 50},
		}, nil
	}, 50*time.Millisecond, nil)
	f := scrape(t, m)
	for status, want := range map[string]float64{"queued": 2, "pinning": 0, "pinned": 4, "failed": 1} {
		if got := f.Get(t, "tack_pins", "status", status); got != want {
			t.Errorf("tack_pins{status=%q} = %v, want %v", status, got, want)
		}
	}
	if got := f.Get(t, "tack_pinned_bytes"); got != 150 {
		t.Errorf("tack_pinned_bytes = %v, want 150", got)
	}
	scrape(t, m)
	if n := reads.Load(); n != 1 {
		t.Errorf("two scrapes within the TTL read the store %d times, want 1", n)
	}
	time.Sleep(60 * time.Millisecond)
	fail.Store(true)
	f = scrape(t, m)
	if got := f.Get(t, "tack_pins", "status", "pinned"); got != 4 {
		t.Errorf("after a failed read: tack_pins{status=pinned} = %v, want the last count, 4", got)
	}
	// Collectors run at once: the error shows from the next scrape on.
	f = scrape(t, m)
	if got := f.Get(t, "tack_errors_total", "source", "store"); got < 1 {
		t.Errorf("after a failed read: tack_errors_total{source=store} = %v, want at least 1", got)
	}
}

// unwrapOnly hides every optional interface of the writer below but
// Unwrap, as http's own wrappers do.
type unwrapOnly struct{ http.ResponseWriter }

func (w unwrapOnly) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TestFlushThroughWrappers checks that a flush inside a counted handler
// reaches the connection through writers that only Unwrap: a streamed CAR
// must go out chunked, without Content-Length.
func TestFlushThroughWrappers(t *testing.T) {
	m := metrics.New()
	h := m.Gateway(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("header"))
		http.NewResponseController(w).Flush()
		w.Write([]byte("rest"))
	}))
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(unwrapOnly{w}, r)
	}))
	defer ts.Close()
	resp, err := http.Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ContentLength != -1 {
		t.Errorf("got Content-Length %d, want a chunked response", resp.ContentLength)
	}
	if got := scrape(t, m).Get(t, "tack_gateway_responses_total", "code", "200"); got != 1 {
		t.Errorf("tack_gateway_responses_total{code=200} = %v, want 1", got)
	}
}

// TestWatchProvide reads the node's ProvideStats at scrape time: nothing
// while providing is off, the last cycle's figures once one has ended.
func TestWatchProvide(t *testing.T) {
	m := metrics.New()
	var stats atomic.Pointer[tack.ProvideStats] // set between scrapes
	stats.Store(&tack.ProvideStats{})
	m.WatchProvide(func() tack.ProvideStats { return *stats.Load() })
	if _, ok := scrape(t, m).Value("tack_provide_keys"); ok {
		t.Error("tack_provide_keys reported while providing is off")
	}

	on := tack.ProvideStats{Enabled: true, Keys: 7, Provided: 9, Failed: 1, Pending: 2}
	stats.Store(&on)
	f := scrape(t, m)
	for name, want := range map[string]float64{"tack_provide_keys": 7, "tack_provide_provided_total": 9,
		"tack_provide_failed_total": 1, "tack_provide_pending": 2} {
		if got := f.Get(t, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if _, ok := f.Value("tack_provide_last_cycle_end_timestamp_seconds"); ok {
		t.Error("the last cycle's end reported before any cycle ended")
	}

	end := time.Date(2026, 11, 29, 6, 0, 0, 0, time.UTC)
	cycled := on
	cycled.Last = &tack.ReprovideCycle{Start: end.Add(-90 * time.Second), End: end, Provided: 5, Late: 3}
	stats.Store(&cycled)
	f = scrape(t, m)
	for name, want := range map[string]float64{"tack_provide_last_cycle_end_timestamp_seconds": float64(end.Unix()),
		"tack_provide_last_cycle_duration_seconds": 90, "tack_provide_last_cycle_provided": 5,
		"tack_provide_last_cycle_late_regions": 3} {
		if got := f.Get(t, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

// TestWatchGC: the collections' stats, read at scrape time: runs by
// outcome, what they freed, the last run's end and length once there is
// one, and failures as gc errors.
func TestWatchGC(t *testing.T) {
	m := metrics.New()
	var stats tack.GCStats
	m.WatchGC(func() tack.GCStats { return stats })
	f := scrape(t, m)
	if _, ok := f["tack_gc_last_run_end_timestamp_seconds"]; ok {
		t.Error("tack_gc_last_run_end_timestamp_seconds before the first collection")
	}
	if got := f.Get(t, "tack_gc_runs_total", "outcome", "ok"); got != 0 {
		t.Errorf("tack_gc_runs_total{outcome=ok} = %v before any, want 0", got)
	}
	end := time.Unix(1_800_000_000, 0)
	stats = tack.GCStats{Runs: 3, Failed: 1, FreedBlocks: 10, FreedBytes: 4096,
		Last: &tack.GCRun{Start: end.Add(-1500 * time.Millisecond), End: end, FreedBlocks: 4}}
	f = scrape(t, m)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"tack_gc_runs_total", []string{"outcome", "ok"}, 2},
		{"tack_gc_runs_total", []string{"outcome", "failed"}, 1},
		{"tack_gc_freed_blocks_total", nil, 10},
		{"tack_gc_freed_bytes_total", nil, 4096},
		{"tack_gc_last_run_end_timestamp_seconds", nil, 1_800_000_000},
		{"tack_gc_last_run_duration_seconds", nil, 1.5},
		{"tack_errors_total", []string{"source", "gc"}, 1},
	} {
		if got := f.Get(t, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}
