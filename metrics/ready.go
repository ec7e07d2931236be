package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// WatchReady reports tack_ready{check}, 1 for each readiness check that
// passes and 0 for each that fails, read at scrape time from checks (the
// http.Server's ReadyChecks: each check's error message, "" if it passed,
// answers reused for a second or so).
func (m *Metrics) WatchReady(checks func() map[string]string) {
	if m == nil {
		return
	}
	m.Registry.MustRegister(readyCollector(checks))
}

var readyDesc = prometheus.NewDesc("tack_ready",
	"1 if the readiness check passes, 0 if it fails, by check (store, blockstore, bucket, disk): what GET /readyz checks.", []string{"check"}, nil)

// readyCollector reads the readiness checks at scrape time.
type readyCollector func() map[string]string

func (c readyCollector) Describe(ch chan<- *prometheus.Desc) { ch <- readyDesc }

func (c readyCollector) Collect(ch chan<- prometheus.Metric) {
	for check, msg := range c() {
		v := 0.0
		if msg == "" {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(readyDesc, prometheus.GaugeValue, v, check)
	}
}
