package http

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/tack-ipfs/tack"
	"golang.org/x/time/rate"
)

// Defaults of RateLimit: generous enough for Kubo, which sends four requests
// at once for `ipfs pin remote service ls --stat` and polls each pin it
// waits on twice a second.
const (
	DefaultRate  rate.Limit = 50 // requests per second, sustained
	DefaultBurst            = 200
)

// maxLimiters is how many per-account limiters are kept before idle ones
// (those with a full bucket) are dropped.
const maxLimiters = 10000

// RateLimit sets the per-account limit on API requests: a token bucket of
// Burst requests refilled at Rate per second. Requests over it get 429 with
// Retry-After.
type RateLimit struct {
	// Rate is the sustained rate in requests per second. Zero means
	// DefaultRate; rate.Inf turns the limit off.
	Rate rate.Limit
	// Burst is the bucket size. Zero means DefaultBurst.
	Burst int
}

func (l RateLimit) withDefaults() RateLimit {
	if l.Rate == 0 {
		l.Rate = DefaultRate
	}
	if l.Burst <= 0 {
		l.Burst = DefaultBurst
	}
	return l
}

// allow takes one request from the account's bucket, or returns
// ERATELIMITED after setting Retry-After on w.
func (s *Server) allow(w http.ResponseWriter, accountID int64) error {
	cfg := s.RateLimit.withDefaults()
	if cfg.Rate == rate.Inf {
		return nil
	}
	now := time.Now()
	lim := s.limiter(accountID, cfg, now)
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		w.Header().Set("Retry-After", "60")
		return tack.Errorf(tack.ERATELIMITED, "too many requests")
	}
	delay := r.DelayFrom(now)
	if delay == 0 {
		return nil
	}
	r.CancelAt(now)
	secs := int(math.Ceil(delay.Seconds()))
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	return tack.Errorf(tack.ERATELIMITED, "too many requests: this account may send %g requests per second (bursts of %d); retry in %d s", float64(cfg.Rate), cfg.Burst, secs)
}

// limiter returns the account's limiter, creating it on first use.
func (s *Server) limiter(accountID int64, cfg RateLimit, now time.Time) *rate.Limiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	if lim, ok := s.limiters[accountID]; ok {
		return lim
	}
	if s.limiters == nil {
		s.limiters = map[int64]*rate.Limiter{}
	}
	if len(s.limiters) >= maxLimiters {
		// A full bucket is the same as a new one: forget it.
		for id, lim := range s.limiters {
			if lim.TokensAt(now) >= float64(lim.Burst()) {
				delete(s.limiters, id)
			}
		}
	}
	lim := rate.NewLimiter(cfg.Rate, cfg.Burst)
	s.limiters[accountID] = lim
	return lim
}
