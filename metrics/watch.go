package metrics

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tack-ipfs/tack"
)

// DefaultPinsTTL is how long WatchPins keeps the counts it read: scrapes
// closer together than this cost the store nothing.
const DefaultPinsTTL = 5 * time.Second

// WatchPins reports tack_pins{status} and tack_pinned_bytes, read from
// usages (the store's FindUsages: one row per account and status, kept by
// triggers) at scrape time, at most once per ttl. A failed read is logged,
// counted as a store error, and reports the last counts read.
func (m *Metrics) WatchPins(usages func(context.Context) (map[int64]*tack.Usage, error), ttl time.Duration, log *slog.Logger) {
	if m == nil {
		return
	}
	if ttl <= 0 {
		ttl = DefaultPinsTTL
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m.Registry.MustRegister(&pinsCollector{m: m, usages: usages, ttl: ttl, log: log})
}

var (
	pinsDesc = prometheus.NewDesc("tack_pins",
		"Pin requests of every account, by status (queued, pinning, pinned, failed).", []string{"status"}, nil)
	pinnedBytesDesc = prometheus.NewDesc("tack_pinned_bytes",
		"Bytes of pinned DAGs, summed over accounts: each account counts each of its DAGs once, so a DAG two accounts pin counts twice.", nil, nil)
)

// pinsCollector reads the store's counters at scrape time.
type pinsCollector struct {
	m      *Metrics
	usages func(context.Context) (map[int64]*tack.Usage, error)
	ttl    time.Duration
	log    *slog.Logger

	mu     sync.Mutex
	read   time.Time
	counts map[tack.Status]int
	bytes  int64
}

func (c *pinsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- pinsDesc
	ch <- pinnedBytesDesc
}

func (c *pinsCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil || time.Since(c.read) >= c.ttl {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		usages, err := c.usages(ctx)
		cancel()
		if err != nil {
			c.log.Error("metrics: reading the counts of pins", "err", err)
			c.m.Error(SourceStore)
		} else {
			c.counts = map[tack.Status]int{}
			c.bytes = 0
			for _, u := range usages {
				for s, n := range u.Pins {
					c.counts[s] += n
				}
				c.bytes += u.Bytes
			}
			c.read = time.Now()
		}
	}
	for _, s := range []tack.Status{tack.StatusQueued, tack.StatusPinning, tack.StatusPinned, tack.StatusFailed} {
		ch <- prometheus.MustNewConstMetric(pinsDesc, prometheus.GaugeValue, float64(c.counts[s]), string(s))
	}
	ch <- prometheus.MustNewConstMetric(pinnedBytesDesc, prometheus.GaugeValue, float64(c.bytes))
}

// WatchPinner reports the pinner's Stats at scrape time, its store and
// blockstore failures in tack_errors_total.
func (m *Metrics) WatchPinner(stats func() tack.PinnerStats) {
	if m == nil {
		return
	}
	m.Registry.MustRegister(pinnerCollector(stats))
	m.errors.watch(func() map[string]int64 {
		s := stats()
		return map[string]int64{SourceStore: s.StoreErrors, SourceBlockstore: s.BlockstoreErrors}
	})
}

var (
	fetchesDesc = prometheus.NewDesc("tack_pinner_fetches_in_flight",
		"DAG fetches running now.", nil, nil)
	fetchedBlocksDesc = prometheus.NewDesc("tack_pinner_fetched_blocks_total",
		"Blocks received from the network by the pinner's fetches.", nil, nil)
	fetchedBytesDesc = prometheus.NewDesc("tack_pinner_fetched_bytes_total",
		"Bytes of the blocks received from the network by the pinner's fetches.", nil, nil)
	retriesDesc = prometheus.NewDesc("tack_pinner_retries_total",
		"Pin requests that stepped aside (no provider found, stalled) and went back to the queue to be tried again.", nil, nil)
	outcomesDesc = prometheus.NewDesc("tack_pinner_outcomes_total",
		"Pin requests the pinner recorded, by outcome (pinned, failed).", []string{"outcome"}, nil)
)

// pinnerCollector reads tack.PinnerStats at scrape time.
type pinnerCollector func() tack.PinnerStats

func (c pinnerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{fetchesDesc, fetchedBlocksDesc, fetchedBytesDesc, retriesDesc, outcomesDesc} {
		ch <- d
	}
}

func (c pinnerCollector) Collect(ch chan<- prometheus.Metric) {
	s := c()
	ch <- prometheus.MustNewConstMetric(fetchesDesc, prometheus.GaugeValue, float64(s.Fetches))
	ch <- prometheus.MustNewConstMetric(fetchedBlocksDesc, prometheus.CounterValue, float64(s.FetchedBlocks))
	ch <- prometheus.MustNewConstMetric(fetchedBytesDesc, prometheus.CounterValue, float64(s.FetchedBytes))
	ch <- prometheus.MustNewConstMetric(retriesDesc, prometheus.CounterValue, float64(s.Retries))
	ch <- prometheus.MustNewConstMetric(outcomesDesc, prometheus.CounterValue, float64(s.Pinned), "pinned")
	ch <- prometheus.MustNewConstMetric(outcomesDesc, prometheus.CounterValue, float64(s.Failed), "failed")
}

// WatchProvide reports the node's state of providing at scrape time;
// stats must cost no I/O (Node.ProvideStats does not). Nothing is reported
// while providing is off.
func (m *Metrics) WatchProvide(stats func() tack.ProvideStats) {
	if m == nil {
		return
	}
	m.Registry.MustRegister(provideCollector(stats))
}

var (
	provideKeysDesc = prometheus.NewDesc("tack_provide_keys",
		"Keys kept provided on the DHT (one provider record each).", nil, nil)
	provideProvidedDesc = prometheus.NewDesc("tack_provide_provided_total",
		"Keys announced on the DHT since start, reprovides included.", nil, nil)
	provideFailedDesc = prometheus.NewDesc("tack_provide_failed_total",
		"Announces on the DHT that failed since start.", nil, nil)
	providePendingDesc = prometheus.NewDesc("tack_provide_pending",
		"Keys waiting for their first announce.", nil, nil)
	provideLastEndDesc = prometheus.NewDesc("tack_provide_last_cycle_end_timestamp_seconds",
		"When the last reprovide cycle ended (Unix time); absent before the first.", nil, nil)
	provideLastTookDesc = prometheus.NewDesc("tack_provide_last_cycle_duration_seconds",
		"How long the last reprovide cycle ran.", nil, nil)
	provideLastProvidedDesc = prometheus.NewDesc("tack_provide_last_cycle_provided",
		"Keys announced during the last reprovide cycle.", nil, nil)
	provideLastLateDesc = prometheus.NewDesc("tack_provide_last_cycle_late_regions",
		"Keyspace regions still waiting to be reprovided when the last cycle ended.", nil, nil)
)

// provideCollector reads the node's provide stats at scrape time.
type provideCollector func() tack.ProvideStats

func (c provideCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{provideKeysDesc, provideProvidedDesc, provideFailedDesc, providePendingDesc,
		provideLastEndDesc, provideLastTookDesc, provideLastProvidedDesc, provideLastLateDesc} {
		ch <- d
	}
}

func (c provideCollector) Collect(ch chan<- prometheus.Metric) {
	s := c()
	if !s.Enabled {
		return
	}
	ch <- prometheus.MustNewConstMetric(provideKeysDesc, prometheus.GaugeValue, float64(s.Keys))
	ch <- prometheus.MustNewConstMetric(provideProvidedDesc, prometheus.CounterValue, float64(s.Provided))
	ch <- prometheus.MustNewConstMetric(provideFailedDesc, prometheus.CounterValue, float64(s.Failed))
	ch <- prometheus.MustNewConstMetric(providePendingDesc, prometheus.GaugeValue, float64(s.Pending))
	last := s.Last
	if last == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(provideLastEndDesc, prometheus.GaugeValue, float64(last.End.UnixNano())/1e9)
	ch <- prometheus.MustNewConstMetric(provideLastTookDesc, prometheus.GaugeValue, last.End.Sub(last.Start).Seconds())
	ch <- prometheus.MustNewConstMetric(provideLastProvidedDesc, prometheus.GaugeValue, float64(last.Provided))
	ch <- prometheus.MustNewConstMetric(provideLastLateDesc, prometheus.GaugeValue, float64(last.Late))
}

// WatchGC reports the garbage collections' stats (gc.Guard.Stats) at
// scrape time, their failures in tack_errors_total{source="gc"}.
func (m *Metrics) WatchGC(stats func() tack.GCStats) {
	if m == nil {
		return
	}
	m.Registry.MustRegister(gcCollector(stats))
	m.errors.watch(func() map[string]int64 {
		return map[string]int64{SourceGC: stats().Failed}
	})
}

var (
	gcRunsDesc = prometheus.NewDesc("tack_gc_runs_total",
		"Garbage collections, by outcome (ok, failed).", []string{"outcome"}, nil)
	gcFreedBlocksDesc = prometheus.NewDesc("tack_gc_freed_blocks_total",
		"Blocks freed by garbage collections.", nil, nil)
	gcFreedBytesDesc = prometheus.NewDesc("tack_gc_freed_bytes_total",
		"Bytes of the blocks freed by garbage collections.", nil, nil)
	gcLastEndDesc = prometheus.NewDesc("tack_gc_last_run_end_timestamp_seconds",
		"When the last garbage collection ended (Unix time); absent before the first.", nil, nil)
	gcLastTookDesc = prometheus.NewDesc("tack_gc_last_run_duration_seconds",
		"How long the last garbage collection ran.", nil, nil)
)

// gcCollector reads tack.GCStats at scrape time.
type gcCollector func() tack.GCStats

func (c gcCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{gcRunsDesc, gcFreedBlocksDesc, gcFreedBytesDesc, gcLastEndDesc, gcLastTookDesc} {
		ch <- d
	}
}

func (c gcCollector) Collect(ch chan<- prometheus.Metric) {
	s := c()
	ch <- prometheus.MustNewConstMetric(gcRunsDesc, prometheus.CounterValue, float64(s.Runs-s.Failed), "ok")
	ch <- prometheus.MustNewConstMetric(gcRunsDesc, prometheus.CounterValue, float64(s.Failed), "failed")
	ch <- prometheus.MustNewConstMetric(gcFreedBlocksDesc, prometheus.CounterValue, float64(s.FreedBlocks))
	ch <- prometheus.MustNewConstMetric(gcFreedBytesDesc, prometheus.CounterValue, float64(s.FreedBytes))
	if s.Last == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(gcLastEndDesc, prometheus.GaugeValue, float64(s.Last.End.UnixNano())/1e9)
	ch <- prometheus.MustNewConstMetric(gcLastTookDesc, prometheus.GaugeValue, s.Last.End.Sub(s.Last.Start).Seconds())
}
