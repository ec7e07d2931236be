package http

import (
	"cmp"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tack-ipfs/tack"
	"golang.org/x/time/rate"
)

// Defaults of RateLimit: generous enough for Kubo, which sends four requests
// at once for `ipfs pin remote service ls --stat` and polls each pin it
// waits on twice a second.
const (
	DefaultRate  rate.Limit = 50 // requests per second, sustained
	DefaultBurst int        = 200
)

// maxLimiters is how many limiters of one kind are kept at most. When a
// new key finds the table full, the buckets that are full are forgotten
// (a full bucket is the same as a new one), and if that leaves more than
// nine tenths of maxLimiters, the fullest of the others down to that. A
// spray from many addresses, one attempt each, thus evicts its own
// buckets, and an attacker who keeps one bucket empty keeps it.
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

const rateLimitSyntax = "write RATE[/s][,BURST], like 50,200 or 500/s,2000, or off"

// ParseRateLimit parses a rate limit written as RATE[/s][,BURST], such as
// "50,200" or "500/s,2000", or "0" or "off" for no limit. RATE may be a
// fraction ("0.5/s"). Without BURST the bucket holds four seconds of RATE,
// as the defaults do (50 a second, bursts of 200), and at least 1.
func ParseRateLimit(s string) (RateLimit, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "off") {
		return RateLimit{Rate: rate.Inf}, nil
	}
	rateText, burstText, hasBurst := strings.Cut(s, ",")
	rateText = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rateText), "/s"))
	r, err := strconv.ParseFloat(rateText, 64)
	if err == nil && r == 0 && !hasBurst {
		return RateLimit{Rate: rate.Inf}, nil
	}
	if err != nil || r <= 0 || math.IsInf(r, 0) || math.IsNaN(r) {
		return RateLimit{}, fmt.Errorf("%q: the rate must be a positive number of requests per second; %s", s, rateLimitSyntax)
	}
	l := RateLimit{Rate: rate.Limit(r), Burst: max(1, int(math.Min(4*r, math.MaxInt32)))}
	if hasBurst {
		b, err := strconv.Atoi(strings.TrimSpace(burstText))
		if err != nil || b < 1 {
			return RateLimit{}, fmt.Errorf("%q: the burst must be a whole number of requests, 1 or more; %s", s, rateLimitSyntax)
		}
		l.Burst = b
	}
	return l, nil
}

// String formats l as ParseRateLimit reads it: "off", or RATE,BURST with
// the defaults filled in.
func (l RateLimit) String() string {
	l = l.withDefaults()
	if l.Rate == rate.Inf {
		return "off"
	}
	return strconv.FormatFloat(float64(l.Rate), 'g', -1, 64) + "," + strconv.Itoa(l.Burst)
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
	lim := s.limiters.get(strconv.FormatInt(accountID, 10), cfg, now)
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

// limiterSet holds token buckets by key (an account, an email, an address),
// creating them on first use, and keeps at most maxLimiters of them.
type limiterSet struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

// get returns key's limiter, creating it with cfg on first use.
func (l *limiterSet) get(key string, cfg RateLimit, now time.Time) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if lim, ok := l.m[key]; ok {
		return lim
	}
	if l.m == nil {
		l.m = map[string]*rate.Limiter{}
	}
	if len(l.m) >= maxLimiters {
		l.evict(now)
	}
	lim := rate.NewLimiter(cfg.Rate, cfg.Burst)
	l.m[key] = lim
	return lim
}

// evict makes room in the table (see maxLimiters).
func (l *limiterSet) evict(now time.Time) {
	type entry struct {
		key  string
		full float64 // the share of the bucket that is full
	}
	entries := make([]entry, 0, len(l.m))
	for k, lim := range l.m {
		tokens, burst := lim.TokensAt(now), float64(lim.Burst())
		if tokens >= burst {
			delete(l.m, k)
			continue
		}
		entries = append(entries, entry{k, tokens / burst})
	}
	keep := maxLimiters * 9 / 10
	if len(entries) <= keep {
		return
	}
	slices.SortFunc(entries, func(a, b entry) int { return cmp.Compare(b.full, a.full) })
	for _, e := range entries[:len(entries)-keep] {
		delete(l.m, e.key)
	}
}
