package http

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/metrics"
)

// DefaultReadyTimeout is how long /readyz waits for each check.
const DefaultReadyTimeout = 2 * time.Second

// Readiness is what GET /readyz checks.
type Readiness struct {
	// Checks name what must answer for the server to be ready ("store",
	// "blockstore"), each with a cheap query. They run at once, each
	// within Timeout.
	Checks map[string]func(ctx context.Context) error
	// Draining reports that the server is shutting down: not ready,
	// whatever the checks say. Nil: never.
	Draining func() bool
	// Timeout bounds each check; zero means DefaultReadyTimeout.
	Timeout time.Duration
}

// ReadyStatus is the body of GET /readyz.
type ReadyStatus struct {
	Ready bool `json:"ready"`
	// Failed names what failed, with why: "draining", or a check's name.
	Failed map[string]string `json:"failed,omitempty"`
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
// every check answers within its timeout, 503 otherwise, with a JSON body
// naming what failed.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	rd := s.Readiness
	st := ReadyStatus{Failed: map[string]string{}}
	if rd.Draining != nil && rd.Draining() {
		st.Failed["draining"] = "the server is shutting down"
	}
	timeout := rd.Timeout
	if timeout <= 0 {
		timeout = DefaultReadyTimeout
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, check := range rd.Checks {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(r.Context(), timeout)
			defer cancel()
			err := check(ctx)
			if err == nil {
				return
			}
			if errors.Is(err, context.DeadlineExceeded) {
				err = errors.New("no answer within " + timeout.String())
			}
			mu.Lock()
			st.Failed[name] = err.Error()
			mu.Unlock()
		})
	}
	wg.Wait()
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
