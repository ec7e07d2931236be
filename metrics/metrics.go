// Package metrics defines tack's Prometheus metrics and serves them in the
// text format. Each Metrics has its own registry, so that several servers
// run in one process (tests) without colliding; nothing is global.
//
// Counters that the code increments (HTTP requests, uploads, gateway
// responses, errors) live here; what other packages already count (the
// pinner's Stats, the collections' GCStats, the node's ProvideStats, the
// store's counters) is read at scrape time through the Watch methods.
//
// Every method is safe on a nil *Metrics and then does nothing, so that
// packages can take a *Metrics that tests leave nil.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Error sources, the values of tack_errors_total's source label.
const (
	SourceStore      = "store"      // the metadata store failed
	SourceBlockstore = "blockstore" // reading, writing or syncing blocks failed
	SourceGC         = "gc"         // a garbage collection failed (store or blockstore)
)

// Metrics holds one server's collectors and their registry.
type Metrics struct {
	// Registry holds every collector of this Metrics, the Go runtime's and
	// the process's included.
	Registry *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	uploads      *prometheus.CounterVec
	uploadBytes  prometheus.Counter
	gateway      *prometheus.CounterVec
	errors       *errorsCollector
}

// New returns a Metrics with its own registry, holding tack's counters,
// the Go runtime's and the process's collectors.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tack_http_requests_total",
			Help: "HTTP requests on the API's address, by route pattern and status code.",
		}, []string{"route", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tack_http_request_duration_seconds",
			Help:    "Time to serve an HTTP request on the API's address, by route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10, 60},
		}, []string{"route"}),
		uploads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tack_uploads_total",
			Help: "CAR uploads (POST /car and the pins page's form), by outcome: ok, or the error code (invalid, too_large, timeout, quota, internal, …).",
		}, []string{"outcome"}),
		uploadBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tack_upload_bytes_total",
			Help: "Bytes of upload bodies read, whatever their outcome.",
		}),
		gateway: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tack_gateway_responses_total",
			Help: "Gateway (/ipfs/…) responses, on the API's address and on --gateway-listen, by status code.",
		}, []string{"code"}),
		errors: &errorsCollector{counts: map[string]int64{SourceStore: 0, SourceBlockstore: 0, SourceGC: 0}},
	}
	m.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpRequests, m.httpDuration, m.uploads, m.uploadBytes, m.gateway, m.errors,
	)
	return m
}

// Handler serves the registry's metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// Error counts an internal error of the given source (SourceStore, …).
func (m *Metrics) Error(source string) {
	if m == nil {
		return
	}
	m.errors.add(source, 1)
}

// Upload counts an upload that ended with outcome ("ok" or an error code)
// after reading n bytes of its body.
func (m *Metrics) Upload(outcome string, n int64) {
	if m == nil {
		return
	}
	m.uploads.WithLabelValues(outcome).Inc()
	m.uploadBytes.Add(float64(n))
}

// HTTP wraps a ServeMux (or a handler that calls one with the same
// *http.Request) to count requests by the pattern that served them and
// their status, and time them. The route is the mux's pattern, never the
// raw path, so the labels stay few: "" for requests that no pattern
// matched.
func (m *Metrics) HTTP(mux http.Handler) http.Handler {
	if m == nil {
		return mux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			status := sw.status
			if v := recover(); v != nil {
				if status == 0 {
					status = http.StatusInternalServerError
				}
				defer panic(v)
			}
			if status == 0 {
				status = http.StatusOK
			}
			m.httpRequests.WithLabelValues(r.Pattern, strconv.Itoa(status)).Inc()
			m.httpDuration.WithLabelValues(r.Pattern).Observe(time.Since(start).Seconds())
		}()
		mux.ServeHTTP(sw, r)
	})
}

// Gateway wraps a gateway handler to count its responses by status.
func (m *Metrics) Gateway(h http.Handler) http.Handler {
	if m == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			m.gateway.WithLabelValues(strconv.Itoa(status)).Inc()
		}()
		h.ServeHTTP(sw, r)
	})
}

// statusWriter records a response's status.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 && status >= 200 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets streamed responses (CARs) flush through, also when the
// writer below is itself a wrapper.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var errorsDesc = prometheus.NewDesc("tack_errors_total",
	"Internal errors by source: store, blockstore, gc (a collection that failed). The API's and web pages' internal errors, the pinner's failures to use the store or store blocks, failed reads of the counts of pins.",
	[]string{"source"}, nil)

// errorsCollector is tack_errors_total: what Error counted, plus what
// other packages count themselves (the pinner's Stats), read at scrape
// time.
type errorsCollector struct {
	mu     sync.Mutex
	counts map[string]int64
	more   []func() map[string]int64
}

func (c *errorsCollector) add(source string, n int64) {
	c.mu.Lock()
	c.counts[source] += n
	c.mu.Unlock()
}

// watch adds counts that f returns at scrape time.
func (c *errorsCollector) watch(f func() map[string]int64) {
	c.mu.Lock()
	c.more = append(c.more, f)
	c.mu.Unlock()
}

func (c *errorsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- errorsDesc }

func (c *errorsCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	counts := make(map[string]int64, len(c.counts))
	for k, v := range c.counts {
		counts[k] = v
	}
	more := c.more
	c.mu.Unlock()
	for _, f := range more {
		for k, v := range f() {
			counts[k] += v
		}
	}
	for k, v := range counts {
		ch <- prometheus.MustNewConstMetric(errorsDesc, prometheus.CounterValue, float64(v), k)
	}
}
