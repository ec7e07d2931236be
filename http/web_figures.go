package http

import (
	"sync"
	"time"

	"github.com/tack-ipfs/tack"
)

// adminFigures are the operator's page's headline figures, read from the
// same stats that /metrics reports (tack_pins, tack_pinned_bytes,
// tack_pinner_…, tack_gc_…), never counted apart.
type adminFigures struct {
	Queued, Pinning, Pinned, Failed int64
	Bytes                           int64 // pinned, summed over accounts
	// Pinner is the pinner's stats; nil: not known (Web.Pinner unset).
	Pinner *tack.PinnerStats
	// FetchRate is the bytes a second the pinner received over
	// FetchWindow; FetchWindow is zero until there are two samples.
	FetchRate   int64
	FetchWindow time.Duration
	// GC is the collections' stats; nil: not known (Web.GC unset).
	GC *tack.GCStats
}

// fetchSampleEvery is how far apart the samples of the pinner's fetched
// bytes are that the fetch speed is measured between: reloads closer
// together than this measure over the same older sample.
const fetchSampleEvery = 10 * time.Second

// fetchSamples are the last two samples of the pinner's fetched bytes.
type fetchSamples struct {
	mu          sync.Mutex
	older, last fetchSample
}

type fetchSample struct {
	at    time.Time
	bytes int64
}

// rate records a sample of fetched bytes at now and returns the speed
// since the oldest sample kept, and over how long; 0, 0 with only one.
func (f *fetchSamples) rate(now time.Time, fetched int64) (int64, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.last.at.IsZero() {
		f.last = fetchSample{now, fetched}
		return 0, 0
	}
	if now.Sub(f.last.at) >= fetchSampleEvery {
		f.older, f.last = f.last, fetchSample{now, fetched}
	}
	from := f.older
	if from.at.IsZero() {
		from = f.last
	}
	window := now.Sub(from.at)
	if window <= 0 {
		return 0, 0
	}
	return int64(float64(fetched-from.bytes) / window.Seconds()), window
}

// figures returns the headline figures from the store's counts of pins
// (FindUsages, as read for the accounts' rows) and the pinner's and the
// collections' stats.
func (web *Web) figures(usages map[int64]*tack.Usage) *adminFigures {
	f := &adminFigures{}
	for _, u := range usages {
		f.Queued += int64(u.Pins[tack.StatusQueued])
		f.Pinning += int64(u.Pins[tack.StatusPinning])
		f.Pinned += int64(u.Pins[tack.StatusPinned])
		f.Failed += int64(u.Pins[tack.StatusFailed])
		f.Bytes += u.Bytes
	}
	if web.Pinner != nil {
		s := web.Pinner()
		f.Pinner = &s
		f.FetchRate, f.FetchWindow = web.fetches.rate(web.now(), s.FetchedBytes)
	}
	if web.GC != nil {
		s := web.GC()
		f.GC = &s
	}
	return f
}
