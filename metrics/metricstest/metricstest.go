// Package metricstest reads metrics in the Prometheus text format, for
// tests: scrape an endpoint, then look values up by name and labels.
package metricstest

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families are the metric families of one scrape, by name.
type Families map[string]*dto.MetricFamily

// Parse reads metrics in the text format.
func Parse(r io.Reader) (Families, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(r)
}

// MustScrape GETs url, with token as a Bearer token unless it is empty,
// and parses the answer, which must be 200.
func MustScrape(tb testing.TB, url, token string) Families {
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
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	fams, err := Parse(bytes.NewReader(b))
	if err != nil {
		tb.Fatalf("GET %s: %v\n%s", url, err, b)
	}
	return fams
}

// Value returns the value of the sample of the named family whose labels
// include the given name, value pairs: a counter's or a gauge's value, a
// histogram's count. It returns false if there is none.
func (f Families) Value(name string, labels ...string) (float64, bool) {
	fam := f[name]
	if fam == nil {
		return 0, false
	}
next:
	for _, m := range fam.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// Get returns Value, failing the test if there is none.
func (f Families) Get(tb testing.TB, name string, labels ...string) float64 {
	tb.Helper()
	v, ok := f.Value(name, labels...)
	if !ok {
		tb.Fatalf("no metric %s%v", name, labels)
	}
	return v
}
