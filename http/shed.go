package http

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/tack-ipfs/tack"
)

// Defaults of Server.MaxInFlight and Server.QueueWait.
//
// On a 2-core machine the store, not the number of handlers, bounds how
// fast /pins answers, and each request in flight holds a SQLite connection
// with its own page cache, its results and its response: memory grows with
// the requests in flight. Measured with internal/cmd/apibench on stores of
// 100,000 and 1,000,000 requests, the server's peak RSS was 120–210 MiB at
// 16 in flight, 190–270 at 32, 310–400 at 64, 0.5–1.2 GiB at 256 and up to
// 4 GiB at 1,024, while the answers served per second stayed within the
// noise from 16 to 256 and their p99 grew with the limit. A request waits
// up to DefaultQueueWait for a slot, so that a burst (Kubo sends four at
// once) is absorbed and only sustained overload is shed.
const (
	DefaultMaxInFlight = 32
	DefaultQueueWait   = 50 * time.Millisecond
)

// inflight bounds the API requests that are served at once. A request that
// finds every slot taken waits up to wait for one, in arrival order, and is
// then shed.
type inflight struct {
	slots   chan struct{}
	wait    time.Duration
	waiting atomic.Int64 // requests waiting for a slot, for tests
}

func newInflight(n int, wait time.Duration) *inflight {
	if n <= 0 {
		n = DefaultMaxInFlight
	}
	if wait <= 0 {
		wait = DefaultQueueWait
	}
	return &inflight{slots: make(chan struct{}, n), wait: wait}
}

// acquire takes a slot, waiting up to l.wait for one, and reports whether
// it got one. A caller that got one must release it.
func (l *inflight) acquire(ctx context.Context) bool {
	select {
	case l.slots <- struct{}{}:
		return true
	default:
	}
	l.waiting.Add(1)
	defer l.waiting.Add(-1)
	t := time.NewTimer(l.wait)
	defer t.Stop()
	select {
	case l.slots <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

func (l *inflight) release() { <-l.slots }

// shed serves h within l's slots, and has s answer 503
// SERVICE_UNAVAILABLE with Retry-After to a request that finds no slot in
// time. It comes before authentication, which costs store reads of its own.
func (l *inflight) shed(s *Server, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !l.acquire(r.Context()) {
			s.Error(w, r, tack.Errorf(tack.EUNAVAILABLE, "the server is overloaded: too many requests in progress; retry in a second"))
			return
		}
		defer l.release()
		h.ServeHTTP(w, r)
	})
}
