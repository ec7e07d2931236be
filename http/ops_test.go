package http_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tack-ipfs/tack"
	tackhttp "github.com/tack-ipfs/tack/http"
	"github.com/tack-ipfs/tack/metrics"
	"github.com/tack-ipfs/tack/metrics/metricstest"
)

// getBody sends a GET with an optional Bearer token and returns the status and
// body, whatever their type.
func getBody(tb testing.TB, url, token string) (int, string) {
	tb.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
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

func TestHealthz(t *testing.T) {
	e := newEnv(t, func(s *tackhttp.Server) { s.MaxInFlight = 1 })
	if status, body := getBody(t, e.url+"/healthz", ""); status != 200 || body != "ok\n" {
		t.Errorf("GET /healthz: got %d %q, want 200 \"ok\\n\"", status, body)
	}
}

func TestReadyz(t *testing.T) {
	var draining atomic.Bool
	var blocksErr atomic.Pointer[error]
	e := newEnv(t, func(s *tackhttp.Server) {
		s.Readiness = tackhttp.Readiness{
			Checks: map[string]func(context.Context) error{
				"store": func(ctx context.Context) error { _, err := s.Store.CountAccounts(ctx); return err },
				"blockstore": func(ctx context.Context) error {
					if p := blocksErr.Load(); p != nil {
						return *p
					}
					return nil
				},
			},
			Draining: draining.Load,
			// Every probe runs the checks: see TestReadyzCache.
			CacheFor: time.Nanosecond,
		}
	})
	ready := func() (int, tackhttp.ReadyStatus) {
		t.Helper()
		status, body := getBody(t, e.url+"/readyz", "")
		var st tackhttp.ReadyStatus
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatalf("GET /readyz: %v; body %q", err, body)
		}
		return status, st
	}
	if status, st := ready(); status != 200 || !st.Ready || len(st.Failed) != 0 {
		t.Errorf("ready: got %d %+v, want 200 and ready", status, st)
	}

	draining.Store(true)
	if status, st := ready(); status != 503 || st.Ready || st.Failed["draining"] == "" || len(st.Failed) != 1 {
		t.Errorf("draining: got %d %+v, want 503 naming draining only", status, st)
	}
	draining.Store(false)

	err := errors.New("disk on fire")
	blocksErr.Store(&err)
	if status, st := ready(); status != 503 || st.Failed["blockstore"] != "disk on fire" {
		t.Errorf("blockstore failing: got %d %+v, want 503 naming the blockstore", status, st)
	}
	blocksErr.Store(nil)

	e.db.Close()
	if status, st := ready(); status != 503 || st.Failed["store"] == "" || len(st.Failed) != 1 {
		t.Errorf("store closed: got %d %+v, want 503 naming the store only", status, st)
	}
}

// TestReadyzCache checks that probes within CacheFor share one round of
// checks, that the next round runs once it has passed, and that a check
// that ignores its context is not waited for past Timeout.
func TestReadyzCache(t *testing.T) {
	var runs atomic.Int64
	release := make(chan struct{})
	defer close(release)
	e := newEnv(t, func(s *tackhttp.Server) {
		s.Readiness = tackhttp.Readiness{
			Checks: map[string]func(context.Context) error{
				"counted": func(context.Context) error { runs.Add(1); return nil },
			},
			Timeout:  200 * time.Millisecond,
			CacheFor: time.Minute,
		}
	})
	for range 5 {
		if status, body := getBody(t, e.url+"/readyz", ""); status != 200 {
			t.Fatalf("GET /readyz: %d %s", status, body)
		}
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("5 probes within CacheFor ran the check %d times, want 1", n)
	}

	e2 := newEnv(t, func(s *tackhttp.Server) {
		s.Readiness = tackhttp.Readiness{
			Checks: map[string]func(context.Context) error{
				"hangs": func(context.Context) error { <-release; return nil }, // ignores its context
			},
			Timeout: 200 * time.Millisecond,
		}
	})
	start := time.Now()
	status, body := getBody(t, e2.url+"/readyz", "")
	if status != 503 || !strings.Contains(body, "no answer within 200ms") {
		t.Errorf("a check that hangs: %d %s", status, body)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("a check that hangs held /readyz for %v", took)
	}
}

// TestMetricsOperatorOnly checks that /metrics on the API's address is
// served only to operators' tokens.
func TestMetricsOperatorOnly(t *testing.T) {
	m := metrics.New()
	e := newEnv(t, func(s *tackhttp.Server) {
		s.Metrics = m
		s.MetricsHandler = m.Handler()
	})
	_, user := e.MustAccount(t, "user@example.com", tack.AccessApproved)
	admin := &tack.Account{Email: "admin", Admin: true, Access: tack.AccessApproved}
	if err := e.db.CreateAccount(context.Background(), admin); err != nil {
		t.Fatal(err)
	}
	adminToken, _, err := e.auth.Issue(context.Background(), admin.ID, "ops")
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := getBody(t, e.url+"/metrics", ""); status != 401 {
		t.Errorf("without a token: got %d, want 401", status)
	}
	if status, _ := getBody(t, e.url+"/metrics", user); status != 403 {
		t.Errorf("with a user's token: got %d, want 403", status)
	}
	e.do(t, "GET", "/pins", user, "")
	e.do(t, "GET", "/pins/nosuchid", user, "")
	e.do(t, "GET", "/nowhere/at/all", user, "")
	status, body := getBody(t, e.url+"/metrics", adminToken)
	if status != 200 {
		t.Fatalf("with the operator's token: got %d %s", status, body)
	}
	for _, want := range []string{
		`tack_http_requests_total{code="200",route="GET /pins"} 1`,
		`tack_http_requests_total{code="404",route="GET /pins/{requestid}"} 1`,
		`tack_http_requests_total{code="404",route="/"} 1`,
		`tack_http_requests_total{code="403",route="GET /metrics"} 1`,
		`tack_http_request_duration_seconds_count{route="GET /pins"} 1`,
		`go_goroutines `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, "nowhere") {
		t.Errorf("/metrics names a raw path:\n%s", body)
	}
}

// metricsURL serves m's metrics on a server of their own and returns the
// address.
func metricsURL(tb testing.TB, m *metrics.Metrics) string {
	ts := httptest.NewServer(m.Handler())
	tb.Cleanup(ts.Close)
	return ts.URL
}

// TestInternalErrorsCounted checks that the internal errors the API logs
// are counted as the store's.
func TestInternalErrorsCounted(t *testing.T) {
	m := metrics.New()
	e := newEnv(t, func(s *tackhttp.Server) { s.Metrics = m })
	_, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	e.db.Close()
	MustFailure(t, e.do(t, "GET", "/pins", token, ""), 500, "INTERNAL_SERVER_ERROR")
	fams := metricstest.MustScrape(t, metricsURL(t, m), "")
	for source, want := range map[string]float64{"store": 1, "blockstore": 0, "gc": 0} {
		if got := fams.Get(t, "tack_errors_total", "source", source); got != want {
			t.Errorf("tack_errors_total{source=%q} = %v, want %v", source, got, want)
		}
	}
}
