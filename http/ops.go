package http

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/metrics"
)

// DefaultReadyTimeout is how long /readyz waits for each check.
const DefaultReadyTimeout = 2 * time.Second

// DefaultReadyCache is how long a check's answer is reused: probes from
// several load balancers, and scrapes of tack_ready, cost one round of
// checks a second at most.
const DefaultReadyCache = time.Second

// Readiness is what GET /readyz checks.
type Readiness struct {
	// Checks name what must answer for the server to be ready ("store",
	// "blockstore", "bucket", "disk"), each with a cheap real request.
	// They run at once, each within Timeout, and their answers are kept
	// for CacheFor.
	Checks map[string]func(ctx context.Context) error
	// Draining reports that the server is shutting down: not ready,
	// whatever the checks say. Nil: never.
	Draining func() bool
	// Timeout bounds each check; zero means DefaultReadyTimeout.
	Timeout time.Duration
	// CacheFor is how long a round of checks is reused; zero means
	// DefaultReadyCache.
	CacheFor time.Duration
}

// ReadyStatus is the body of GET /readyz.
type ReadyStatus struct {
	Ready bool `json:"ready"`
	// Failed names what failed, with why: "draining", or a check's name.
	Failed map[string]string `json:"failed,omitempty"`
}

// readyCache keeps the last round of checks. Its mutex is held while a
// round runs, so that probes that come meanwhile wait for it and share
// its answers instead of running their own.
type readyCache struct {
	mu     sync.Mutex
	at     time.Time
	failed map[string]string // by check, of the round at at
}

// ReadyChecks runs the checks of Readiness (or reuses answers younger
// than CacheFor) and returns each check's error message, "" for a check
// that passed: the Message of a *tack.Error, whose fault is logged
// instead, or the error's text. A check that starts or stops failing is
// logged once. Draining is not among them.
func (s *Server) ReadyChecks() map[string]string {
	rd := s.Readiness
	timeout := cmp.Or(rd.Timeout, DefaultReadyTimeout)
	c := &s.ready
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failed != nil && time.Since(c.at) < cmp.Or(rd.CacheFor, DefaultReadyCache) {
		return maps.Clone(c.failed)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	failed := make(map[string]string, len(rd.Checks))
	for name, check := range rd.Checks {
		wg.Go(func() {
			// Not the request's context: the answer is shared.
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			// A check that does not heed its context is not waited for
			// past the timeout either.
			done := make(chan error, 1)
			go func() { done <- check(ctx) }()
			var err error
			select {
			case err = <-done:
			case <-ctx.Done():
				err = ctx.Err()
			}
			msg := ""
			if errors.Is(err, context.DeadlineExceeded) || (err != nil && ctx.Err() != nil) {
				msg = "no answer within " + timeout.String()
			} else if errors.As(err, new(*tack.Error)) {
				msg = tack.ErrorMessage(err) // the fault behind it is logged
			} else if err != nil {
				msg = err.Error()
			}
			if msg != "" && (c.failed == nil || c.failed[name] == "") {
				s.logger().Warn("not ready", "check", name, "err", err)
			} else if msg == "" && c.failed != nil && c.failed[name] != "" {
				s.logger().Info("ready again", "check", name)
			}
			mu.Lock()
			failed[name] = msg
			mu.Unlock()
		})
	}
	wg.Wait()
	c.at, c.failed = time.Now(), failed
	return maps.Clone(failed)
}

// mountOps registers /healthz, /readyz and, if s.MetricsHandler is set,
// GET /metrics for operators' bearer tokens. The health endpoints are
// outside authentication, rate limits and MaxInFlight: a load balancer
// must reach them while the API sheds load.
func (s *Server) mountOps(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.handleReady)
	if s.MetricsHandler != nil {
		mux.Handle("GET /metrics", s.operator(s.MetricsHandler))
	}
}

// handleReady serves GET /readyz: 200 if the server is not draining and
// every check passes (see ReadyChecks), 503 with Retry-After otherwise,
// with a JSON body naming each check that failed and why.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	st := ReadyStatus{Failed: map[string]string{}}
	if d := s.Readiness.Draining; d != nil && d() {
		st.Failed["draining"] = "the server is shutting down"
	}
	for name, msg := range s.ReadyChecks() {
		if msg != "" {
			st.Failed[name] = msg
		}
	}
	status := http.StatusOK
	if len(st.Failed) > 0 {
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "1")
	} else {
		st.Ready, st.Failed = true, nil
	}
	w.Header().Set("Cache-Control", "no-store")
	s.writeJSON(w, r, status, st)
}

// operator lets only operators' (admin accounts') Bearer tokens through
// to h: 401 without a valid token, 403 for other accounts. Operators are
// not rate limited here: a scrape every few seconds is no load.
func (s *Server) operator(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		acct, _, err := s.authenticate(r.Context(), r.Header.Get("Authorization"))
		if err != nil {
			s.Error(w, r, err)
			return
		}
		if !acct.Admin || acct.Blocked {
			s.Error(w, r, tack.Errorf(tack.EFORBIDDEN, "only an operator's token may read /metrics here; or serve them apart with --metrics-listen"))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// errorSource returns where an internal error came from, for
// tack_errors_total.
func errorSource(err error) string {
	if errors.As(err, new(tack.BlockstoreError)) {
		return metrics.SourceBlockstore
	}
	return metrics.SourceStore
}
