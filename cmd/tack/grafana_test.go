package main

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/tack-ipfs/tack/metrics/metricstest"
)

// dashboardPath is the Grafana dashboard that operators import.
const dashboardPath = "../../docs/grafana/tack.json"

// dashboard is what the test reads of a Grafana dashboard's JSON.
type dashboard struct {
	Inputs []struct {
		Name     string `json:"name"`
		Type     string `json:"type"`
		PluginID string `json:"pluginId"`
	} `json:"__inputs"`
	SchemaVersion int    `json:"schemaVersion"`
	Title         string `json:"title"`
	UID           string `json:"uid"`
	Panels        []struct {
		ID         int               `json:"id"`
		Type       string            `json:"type"`
		Title      string            `json:"title"`
		Datasource *dashboardSource  `json:"datasource"`
		Targets    []dashboardTarget `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name       string           `json:"name"`
			Datasource *dashboardSource `json:"datasource"`
			Definition string           `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

type dashboardSource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type dashboardTarget struct {
	Datasource *dashboardSource `json:"datasource"`
	Expr       string           `json:"expr"`
}

func readDashboard(tb testing.TB) (*dashboard, []byte) {
	tb.Helper()
	b, err := os.ReadFile(dashboardPath)
	if err != nil {
		tb.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		tb.Fatalf("%s: %v", dashboardPath, err)
	}
	return &d, b
}

// exportedMetrics returns the names of every series a tack serve's
// registry exports: each collector's metric names (as described, so that
// what appears only later, such as the last collection's time or the DHT's
// figures, counts), and a histogram's or summary's _bucket, _sum and
// _count series.
func exportedMetrics(tb testing.TB, reg *prometheus.Registry) map[string]bool {
	tb.Helper()
	names := map[string]bool{}
	descs := make(chan *prometheus.Desc)
	go func() { reg.Describe(descs); close(descs) }()
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	for d := range descs {
		m := fqName.FindStringSubmatch(d.String())
		if m == nil {
			tb.Fatalf("no metric name in %s", d)
		}
		names[m[1]] = true
	}
	fams, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, f := range fams {
		names[f.GetName()] = true
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			names[f.GetName()+"_bucket"] = true
			fallthrough
		case dto.MetricType_SUMMARY:
			names[f.GetName()+"_sum"] = true
			names[f.GetName()+"_count"] = true
		}
	}
	if !names["tack_http_request_duration_seconds_bucket"] {
		tb.Fatal("the request histogram's series are not known: serve a request first")
	}
	return names
}

// promqlKeywords are the words of PromQL that are not metric names.
var promqlKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"bool": true, "and": true, "or": true, "unless": true, "offset": true, "atan2": true, "inf": true, "nan": true,
}

var (
	promqlGrouping = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promqlIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	// labelValues is Grafana's label_values(query, label).
	labelValues = regexp.MustCompile(`^\s*label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$`)
)

// metricNames returns the metric names that a PromQL expression (or a
// Grafana label_values query) names: its identifiers, once quoted strings,
// label matchers ({…}), ranges ([…]) and grouping labels (by (…), …) are
// dropped, that are neither functions (followed by "(") nor keywords.
func metricNames(expr string) []string {
	if m := labelValues.FindStringSubmatch(expr); m != nil {
		expr = m[1]
	}
	var b strings.Builder
	var quote byte
	depth := 0
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
			continue
		case c == '"' || c == '\'' || c == '`':
			quote = c
			continue
		case c == '{' || c == '[':
			depth++
			continue
		case c == '}' || c == ']':
			depth--
			b.WriteByte(' ')
			continue
		case depth > 0:
			continue
		}
		b.WriteByte(c)
	}
	s := promqlGrouping.ReplaceAllString(b.String(), " ")
	var names []string
	for _, loc := range promqlIdent.FindAllStringIndex(s, -1) {
		name := s[loc[0]:loc[1]]
		if loc[0] > 0 && (s[loc[0]-1] == '$' || s[loc[0]-1] == '.' || (s[loc[0]-1] >= '0' && s[loc[0]-1] <= '9')) {
			continue // a variable, or a number's exponent or unit
		}
		if rest := strings.TrimLeft(s[loc[1]:], " \t\n"); strings.HasPrefix(rest, "(") || promqlKeywords[strings.ToLower(name)] {
			continue
		}
		names = append(names, name)
	}
	return names
}

func TestMetricNames(t *testing.T) {
	for _, c := range []struct {
		expr string
		want []string
	}{
		{`tack_pins`, []string{"tack_pins"}},
		{`sum by (route, code) (rate(tack_http_requests_total{code=~"5..",instance=~"$instance"}[$__rate_interval]))`, []string{"tack_http_requests_total"}},
		{`histogram_quantile(0.95, sum by (le) (rate(tack_http_request_duration_seconds_bucket[5m])))`, []string{"tack_http_request_duration_seconds_bucket"}},
		{`time() - max(tack_gc_last_run_end_timestamp_seconds{instance=~"$instance"})`, []string{"tack_gc_last_run_end_timestamp_seconds"}},
		{`rate(a_total[1m]) / ignoring(x) group_left (y) b_total > bool 1e3`, []string{"a_total", "b_total"}},
		{`sum without (instance) (x) and on (job) y offset 5m`, []string{"x", "y"}},
		{`label_values(tack_http_requests_total, instance)`, []string{"tack_http_requests_total"}},
		{`{__name__="hidden"}`, nil},
	} {
		if got := metricNames(c.expr); !slices.Equal(got, c.want) {
			t.Errorf("metricNames(%q) = %q, want %q", c.expr, got, c.want)
		}
	}
}

// unknownMetrics returns, for each query of the dashboard that names a
// metric not in known, the panel's title and the name.
func unknownMetrics(d *dashboard, known map[string]bool) []string {
	var bad []string
	check := func(where, expr string) {
		for _, name := range metricNames(expr) {
			if !known[name] {
				bad = append(bad, where+": "+name)
			}
		}
	}
	for _, p := range d.Panels {
		for _, t := range p.Targets {
			check("panel "+p.Title, t.Expr)
		}
	}
	for _, v := range d.Templating.List {
		check("variable "+v.Name, v.Definition)
	}
	return bad
}

// TestGrafanaDashboard: docs/grafana/tack.json is an importable dashboard
// (its Prometheus data source an input, ${DS_PROMETHEUS}, in every panel
// and query) whose every query names only metrics that a tack serve
// exports, as its registry holds them with the real collectors, so the
// dashboard and the metrics cannot drift apart; and that check fails for
// a panel that names a metric tack does not export.
func TestGrafanaDashboard(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, tempData(t))
	// One request of each kind, so that the vectors have series.
	metricstest.MustScrape(t, "http://"+m.HTTPAddr()+"/metrics", m.AdminToken)
	known := exportedMetrics(t, m.Metrics.Registry)

	d, raw := readDashboard(t)
	if len(d.Inputs) != 1 || d.Inputs[0].Name != "DS_PROMETHEUS" || d.Inputs[0].Type != "datasource" || d.Inputs[0].PluginID != "prometheus" {
		t.Errorf("__inputs = %+v, want one Prometheus data source DS_PROMETHEUS", d.Inputs)
	}
	if d.SchemaVersion == 0 || d.Title == "" || d.UID == "" {
		t.Errorf("schemaVersion %d, title %q, uid %q: want all set", d.SchemaVersion, d.Title, d.UID)
	}
	ds := dashboardSource{Type: "prometheus", UID: "${DS_PROMETHEUS}"}
	ids := map[int]bool{}
	queries := 0
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel %q: id %d used twice", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || *p.Datasource != ds || len(p.Targets) == 0 {
			t.Errorf("panel %q: data source %v and %d queries, want %v and some", p.Title, p.Datasource, len(p.Targets), ds)
		}
		for _, q := range p.Targets {
			if q.Datasource == nil || *q.Datasource != ds || len(metricNames(q.Expr)) == 0 {
				t.Errorf("panel %q: query %q on %v names no metric or another data source", p.Title, q.Expr, q.Datasource)
			}
			queries++
		}
	}
	for _, v := range d.Templating.List {
		if v.Datasource == nil || *v.Datasource != ds {
			t.Errorf("variable %q: data source %v, want %v", v.Name, v.Datasource, ds)
		}
	}
	if bad := unknownMetrics(d, known); len(bad) > 0 {
		t.Errorf("the dashboard names metrics tack does not export:\n%s", strings.Join(bad, "\n"))
	}
	// Every family of the API's, the queue's, uploads', the gateway's,
	// GC's and reprovides' metrics has a panel.
	shown := map[string]bool{}
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			for _, name := range metricNames(q.Expr) {
				shown[strings.TrimSuffix(name, "_bucket")] = true
			}
		}
	}
	for name := range known {
		if strings.HasPrefix(name, "tack_") && !strings.HasSuffix(name, "_sum") && !strings.HasSuffix(name, "_count") && !strings.HasSuffix(name, "_bucket") && !shown[name] {
			t.Errorf("no panel shows %s", name)
		}
	}
	t.Logf("%d panels, %d queries, %d metrics known", len(d.Panels), queries, len(known))

	// The check fails on a panel naming a metric tack does not export.
	var mutated dashboard
	if err := json.Unmarshal([]byte(strings.Replace(string(raw), "rate(tack_pinner_fetched_bytes_total", "rate(tack_pinner_fetched_byte_total", 1)), &mutated); err != nil {
		t.Fatal(err)
	}
	if bad := unknownMetrics(&mutated, known); len(bad) != 1 || !strings.HasSuffix(bad[0], ": tack_pinner_fetched_byte_total") {
		t.Errorf("a misspelt metric: unknownMetrics = %q, want it named", bad)
	}
}
