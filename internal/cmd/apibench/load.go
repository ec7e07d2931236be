package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Result is one scenario's outcome.
type Result struct {
	Name    string
	What    string
	Rate    int            // requests per second asked for
	Metrics vegeta.Metrics // every answer
	OK      vegeta.Metrics // the 2xx answers alone
	Load    float64        // the machine's load average over the last minute, at the end
	PeakRSS int64          // the server's VmHWM during the scenario
	MaxFDs  int            // the most file descriptors the server held, sampled
	Note    string
	Profile string // the top of the server's CPU profile, if taken
}

func (r *Result) add(hit *vegeta.Result) {
	r.Metrics.Add(hit)
	if hit.Code >= 200 && hit.Code < 300 {
		r.OK.Add(hit)
	}
}

func (r *Result) close() {
	r.Metrics.Close()
	r.OK.Close()
	r.Load = loadAverage()
}

// loadAverage returns the machine's load average over the last minute.
func loadAverage() float64 {
	b, _ := os.ReadFile("/proc/loadavg")
	var load float64
	fmt.Sscan(string(b), &load)
	return load
}

// runner runs scenarios against one server.
type runner struct {
	c    Config
	srv  *Server
	seed *Seed
	all  []*Account // the big account first, then the small ones
}

// RunScenarios runs c.Scenarios in order and returns their results.
func RunScenarios(ctx context.Context, c Config, srv *Server, seed *Seed) ([]*Result, error) {
	r := &runner{c: c, srv: srv, seed: seed, all: append([]*Account{seed.Big}, seed.Small...)}
	// Warm the server's caches and connections, unreported.
	r.attack(ctx, "warm-up", "", c.FloorRate, r.get(seed.Small, floorPath), min(c.Duration, 3*time.Second))
	var results []*Result
	seen := map[string]bool{}
	for _, name := range c.Scenarios {
		if ctx.Err() != nil {
			return results, ctx.Err()
		}
		res, err := r.run(ctx, name)
		if err != nil {
			return results, fmt.Errorf("scenario %s: %w", name, err)
		}
		if seen[name] {
			res.Name += " (again)"
		}
		seen[name] = true
		results = append(results, res)
		fmt.Fprintf(c.Stdout, "%-16s %6d requests, %5.1f%% ok, p99 %s\n", res.Name, res.Metrics.Requests, 100*res.Metrics.Success, res.Metrics.Latencies.P99.Round(time.Microsecond*10))
	}
	return results, nil
}

// run runs one scenario with the server's peak RSS reset before it, and
// its open files sampled while it runs.
func (r *runner) run(ctx context.Context, name string) (*Result, error) {
	if err := r.srv.ResetPeak(); err != nil {
		return nil, fmt.Errorf("resetting the peak RSS: %w", err)
	}
	sampleCtx, stopSampling := context.WithCancel(ctx)
	maxFDs := make(chan int, 1)
	go func() {
		n := r.srv.OpenFiles()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				n = max(n, r.srv.OpenFiles())
			case <-sampleCtx.Done():
				maxFDs <- n
				return
			}
		}
	}()

	list := func(int) string { return "/pins?status=queued&limit=1000" }
	big := []*Account{r.seed.Big}
	d := r.c.Duration
	var res *Result
	var err error
	switch name {
	case "floor":
		res = r.attack(ctx, name, "GET /pins?status=pinned&limit=1, small accounts (an empty answer)", r.c.FloorRate, r.get(r.seed.Small, floorPath), d)
	case "post":
		res, err = r.post(ctx)
	case "list":
		res = r.attack(ctx, name, "GET /pins?status=queued&limit=1000, small accounts", r.c.ListRate, r.get(r.seed.Small, list), d)
		res.Note = r.probeList(r.seed.Small[0])
	case "list-big":
		res = r.attack(ctx, name, "GET /pins?status=queued&limit=1000, the big account", r.c.ListRate, r.get(big, list), d)
		res.Note = r.probeList(r.seed.Big)
	case "stat":
		res = r.attack(ctx, name, "GET /pins?status=S&limit=1, 4 statuses, small accounts", r.c.StatRate, r.get(r.seed.Small, statPath), d)
	case "stat-big":
		res = r.attack(ctx, name, "GET /pins?status=S&limit=1, 4 statuses, the big account", r.c.StatRate, r.get(big, statPath), d)
	case "conns":
		res = r.conns(ctx)
	case busyScenario:
		res = r.listBusy(ctx)
	}
	stopSampling()
	if err != nil {
		return nil, err
	}
	res.MaxFDs = <-maxFDs
	if res.PeakRSS, _, err = r.srv.PeakRSS(); err != nil {
		return nil, fmt.Errorf("tack serve is gone (see %s): %w", r.srv.LogPath, err)
	}
	return res, nil
}

// floorPath is the floor's request: an account's pinned requests, none.
func floorPath(int) string { return "/pins?status=pinned&limit=1" }

var statuses = []string{"queued", "pinning", "pinned", "failed"}

// statPath is the i-th request of `service ls --stat`: the four statuses in turn.
func statPath(i int) string { return "/pins?status=" + statuses[i%4] + "&limit=1" }

// newClient returns a client whose connections the scenario closes after
// it, so that they do not linger into the next.
func newClient() (*http.Client, *http.Transport) {
	tr := &http.Transport{MaxIdleConnsPerHost: 1000, DisableCompression: true}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, tr
}

// attack sends tr's requests at rate a second for the configured duration.
func (r *runner) attack(ctx context.Context, name, what string, rate int, tr vegeta.Targeter, duration time.Duration) *Result {
	client, transport := newClient()
	defer transport.CloseIdleConnections()
	atk := vegeta.NewAttacker(vegeta.Client(client), vegeta.Workers(8), vegeta.MaxWorkers(1000), vegeta.MaxBody(0))
	res := &Result{Name: name, What: what, Rate: rate}
	for hit := range atk.Attack(tr, vegeta.Rate{Freq: rate, Per: time.Second}, duration, name) {
		res.add(hit)
		if ctx.Err() != nil {
			atk.Stop()
		}
	}
	res.close()
	return res
}

// headers returns the request headers of an account.
func headers(a *Account) http.Header {
	return http.Header{"Authorization": {"Bearer " + a.Token}, "Content-Type": {"application/json"}}
}

// get returns a targeter of GET path(i) for the i-th request, the
// accounts taking turns.
func (r *runner) get(accounts []*Account, path func(i int) string) vegeta.Targeter {
	hdrs := make([]http.Header, len(accounts))
	for i, a := range accounts {
		hdrs[i] = headers(a)
	}
	var n atomic.Int64
	return func(t *vegeta.Target) error {
		i := int(n.Add(1) - 1)
		t.Method, t.URL, t.Header = "GET", r.srv.URL+path(i/len(accounts)), hdrs[i%len(accounts)]
		return nil
	}
}

// post sends new pin requests from every account in turn, as Kubo would
// (a name, its two origins), with the server's CPU profiled meanwhile.
func (r *runner) post(ctx context.Context) (*Result, error) {
	hdrs := make([]http.Header, len(r.all))
	for i, a := range r.all {
		hdrs[i] = headers(a)
	}
	origins, _ := json.Marshal(kuboOrigins)
	var n atomic.Int64
	tr := func(t *vegeta.Target) error {
		i := int(n.Add(1) - 1)
		t.Method, t.URL, t.Header = "POST", r.srv.URL+"/pins", hdrs[i%len(hdrs)]
		t.Body = fmt.Appendf(nil, `{"cid":%q,"name":"apibench-post-%d","origins":%s}`, randomCID(i).String(), i, origins)
		return nil
	}
	profiled := r.profile(ctx, "post")
	res := r.attack(ctx, "post", fmt.Sprintf("POST /pins, new random CIDs, %d accounts in turn", len(hdrs)), r.c.PostRate, tr, r.c.Duration)
	var err error
	res.Profile, err = profiled()
	if err != nil {
		return nil, err
	}
	return res, nil
}

// profile starts a CPU profile of the server for the scenario's duration,
// if c.Profile, into DIR/NAME.cpu.pprof. The function it returns waits for
// it and returns its top, or "" if c.Profile is off.
func (r *runner) profile(ctx context.Context, name string) func() (string, error) {
	if !r.c.Profile {
		return func() (string, error) { return "", nil }
	}
	profile := make(chan error, 1)
	profilePath := filepath.Join(r.c.Dir, name+".cpu.pprof")
	secs := max(1, int(r.c.Duration.Seconds())-1)
	go func() {
		profile <- fetch(ctx, r.srv.PProfURL+"profile?seconds="+strconv.Itoa(secs), profilePath, time.Duration(secs+30)*time.Second)
	}()
	return func() (string, error) {
		if err := <-profile; err != nil {
			return "", fmt.Errorf("CPU profile: %w", err)
		}
		// The profile holds its symbols: no binary needed.
		out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=25", profilePath).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("go tool pprof: %v\n%s", err, out)
		}
		return fmt.Sprintf("go tool pprof -top %s\n%s", profilePath, out), nil
	}
}

// fetch saves url's body to path.
func fetch(ctx context.Context, url, path string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// probeList checks that a list answers with a full page, and says how big
// the answer is.
func (r *runner) probeList(a *Account) string {
	req, _ := http.NewRequest("GET", r.srv.URL+"/pins?status=queued&limit=1000", nil)
	req.Header = headers(a)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "probe: " + err.Error()
	}
	defer resp.Body.Close()
	var page struct {
		Count   int               `json:"count"`
		Results []json.RawMessage `json:"results"`
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || json.Unmarshal(body, &page) != nil {
		return fmt.Sprintf("probe: %s, an unreadable body", resp.Status)
	}
	if want := min(1000, page.Count); len(page.Results) != want {
		return fmt.Sprintf("probe: %d results, want %d!", len(page.Results), want)
	}
	return fmt.Sprintf("%d results of %d, %d KiB", len(page.Results), page.Count, len(body)>>10)
}

// conns opens c.Conns clients, each with a connection of its own kept
// alive, each polling GET /pins/{requestid} of a seeded request every
// c.ConnEvery, their starts spread over the first interval; all of them
// stay open until the scenario ends.
func (r *runner) conns(ctx context.Context) *Result {
	c := r.c
	var accounts []*Account
	for _, a := range r.all {
		if len(a.Sample) > 0 {
			accounts = append(accounts, a)
		}
	}
	rate := float64(c.Conns) / c.ConnEvery.Seconds()
	res := &Result{
		Name: "conns",
		What: fmt.Sprintf("%d keep-alive connections, each GET /pins/{requestid} every %s", c.Conns, c.ConnEvery),
		Rate: int(rate),
	}
	hits := make(chan *vegeta.Result, 1024)
	start := time.Now()
	end := start.Add(c.Duration)
	transports := make([]*http.Transport, c.Conns)
	var wg sync.WaitGroup
	for i := range c.Conns {
		transports[i] = &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1, DisableCompression: true}
		client := &http.Client{Transport: transports[i], Timeout: 30 * time.Second}
		a := accounts[i%len(accounts)]
		url := r.srv.URL + "/pins/" + a.Sample[(i/len(accounts))%len(a.Sample)]
		hdr := headers(a)
		offset := c.ConnEvery * time.Duration(i) / time.Duration(c.Conns)
		wg.Go(func() {
			// At most Duration/ConnEvery+1 requests: the times only grow.
			for k := time.Duration(0); ; k++ {
				at := start.Add(offset + k*c.ConnEvery)
				if !at.Before(end) || ctx.Err() != nil {
					return
				}
				time.Sleep(time.Until(at))
				hits <- hit(client, url, hdr)
			}
		})
	}
	go func() {
		wg.Wait()
		close(hits)
	}()
	for h := range hits {
		res.add(h)
	}
	res.close()
	for _, tr := range transports {
		tr.CloseIdleConnections()
	}
	return res
}

// hit sends one GET and records it as vegeta does.
func hit(client *http.Client, url string, hdr http.Header) *vegeta.Result {
	res := &vegeta.Result{Attack: "conns", Method: "GET", URL: url, Timestamp: time.Now()}
	defer func() { res.Latency = time.Since(res.Timestamp) }()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	req.Header = hdr.Clone()
	resp, err := client.Do(req)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	res.BytesIn, res.Code = uint64(n), uint16(resp.StatusCode)
	if err != nil {
		res.Error = err.Error()
	} else if res.Code < 200 || res.Code >= 400 {
		res.Error = resp.Status
	}
	return res
}
