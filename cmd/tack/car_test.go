package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	nethttp "net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	pinclient "github.com/ipfs/boxo/pinning/remote/client"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/http"
	"github.com/tack-ipfs/tack/internal/cartest"
	"github.com/tack-ipfs/tack/internal/testpeer"
)

// postCAR posts body to addr's /car with the query, and returns the
// status and the decoded results (or the raw body if it is not a list).
func postCAR(tb testing.TB, addr, token, query string, body io.Reader, size int64) (int, http.PinResults, string) {
	tb.Helper()
	req, err := nethttp.NewRequest("POST", "http://"+addr+"/car"+query, body)
	if err != nil {
		tb.Fatal(err)
	}
	if size > 0 {
		req.ContentLength = size
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/vnd.ipld.car")
	resp, err := nethttp.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	var res http.PinResults
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(b, &res); err != nil {
			tb.Fatalf("decode %s: %v", b, err)
		}
	}
	return resp.StatusCode, res, string(b)
}

// A CAR with part of a DAG is queued, and the pinner fetches the rest
// from the origins the upload named; the blocks of the CAR are not fetched
// again.
func TestUploadCARFetchesRest(t *testing.T) {
	dir := tempData(t)
	m := MustOpenMain(t, dir)
	token := MustAccount(t, dir, "a@example.com", true)
	peer := testpeer.New(t)
	root := peer.AddFile(t, 2<<20, 64<<10, 1)
	ctx := context.Background()
	all, err := testpeer.AllCIDs(ctx, peer.Blockstore(), root)
	if err != nil {
		t.Fatal(err)
	}
	var part []blocks.Block
	for _, c := range all[:len(all)/2] {
		b, err := peer.Blockstore().Get(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		part = append(part, b)
	}
	q := url.Values{"name": {"half"}}
	for _, a := range peer.Addrs() {
		q.Add("origin", a)
	}
	status, res, body := postCAR(t, m.HTTPAddr(), token, "?"+q.Encode(), bytes.NewReader(cartest.CAR(t, []cid.Cid{root}, part...)), 0)
	if status != 200 || len(res.Results) != 1 {
		t.Fatalf("got %d %s", status, body)
	}
	ps := res.Results[0]
	if ps.Status != tack.StatusQueued && ps.Status != tack.StatusPinning {
		t.Fatalf("got %s, want queued", ps.Status)
	}
	got := WaitStatus(t, m.Client(token), ps.RequestID, pinclient.StatusPinned, time.Minute)
	if got.GetPin().GetName() != "half" {
		t.Errorf("got name %q", got.GetPin().GetName())
	}
	if n := m.MustHaveDAG(t, peer, root); fmt.Sprint(n) != got.GetInfo()["blocks"] {
		t.Errorf("got %s blocks, want %d", got.GetInfo()["blocks"], n)
	}
}

// A whole CAR, streamed, is pinned at once, through the client Kubo uses
// it is listed like any other request, and it is served back.
func TestUploadCARWholeEndToEnd(t *testing.T) {
	dir := tempData(t)
	m := MustOpenMain(t, dir)
	token := MustAccount(t, dir, "a@example.com", true)
	s, root := cartest.NewStream(t, 300, 10_000, 1)
	status, res, body := postCAR(t, m.HTTPAddr(), token, "?name=stream", s, 0)
	if status != 200 || res.Results[0].Status != tack.StatusPinned || res.Results[0].Pin.CID != root.String() {
		t.Fatalf("got %d %s", status, body)
	}
	list, err := m.Client(token).LsSync(context.Background(), pinclient.PinOpts.FilterStatus(pinclient.StatusPinned))
	if err != nil || len(list) != 1 || !list[0].GetPin().GetCid().Equals(root) {
		t.Fatalf("ls: %v, %v", list, err)
	}
	if ok, err := m.Blocks.Has(context.Background(), root); !ok || err != nil {
		t.Errorf("root not stored: %v", err)
	}
}

// `ipfs dag export` piped into POST /car, as docs/api.md shows.
func TestUploadCARFromKubo(t *testing.T) {
	bin := kuboBin(t)
	k := startKubo(t, bin)
	dir := tempData(t)
	m := MustOpenMain(t, dir)
	token := MustAccount(t, dir, "a@example.com", true)
	for _, args := range [][]string{
		{"add", "-Q", "--cid-version=1"},             // raw leaves, CIDv1
		{"add", "-Q", "--chunker=size-1024"},         // CIDv0, dag-pb leaves
		{"add", "-Q", "--cid-version=1", "--inline"}, // identity links
	} {
		root := strings.TrimSpace(k.Run(t, append(args, k.randomFile(t, 3<<20))...))
		export := exec.Command(bin, "dag", "export", root)
		export.Env = k.env()
		out, err := export.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := export.Start(); err != nil {
			t.Fatal(err)
		}
		status, res, body := postCAR(t, m.HTTPAddr(), token, "?name=kubo", out, 0)
		if err := export.Wait(); err != nil {
			t.Fatal(err)
		}
		if status != 200 || res.Results[0].Status != tack.StatusPinned || res.Results[0].Pin.CID != root {
			t.Fatalf("%v: got %d %s", args, status, body)
		}
		refs := strings.Fields(k.Run(t, "refs", "-r", "--unique", root))
		for _, r := range append(refs, root) {
			c := cid.MustParse(r)
			if ok, err := m.Blocks.Has(context.Background(), c); !ok || err != nil {
				t.Fatalf("%v: block %s not stored (%v)", args, r, err)
			}
		}
	}
}

// randomFile writes size random bytes to a file and returns its path.
func (k *kubo) randomFile(tb testing.TB, size int) string {
	tb.Helper()
	f := filepath.Join(tb.TempDir(), "file")
	buf := make([]byte, size)
	rand.Read(buf)
	if err := os.WriteFile(f, buf, 0o600); err != nil {
		tb.Fatal(err)
	}
	return f
}

// BenchmarkUpload posts a 1 GiB CAR, streamed as it is made, to a tack
// process over loopback: of 1 MiB blocks and of 1 KiB blocks. It reports
// MB/s, blocks/s, the tack process's peak resident memory (VmHWM) and the
// CPU time it spent on the upload (user plus system, from /proc): on a
// machine shared with the client, and with other work, the CPU time says
// what the upload costs whatever the load.
//
//	go test ./cmd/tack -run '^$' -bench Upload -benchtime 1x
func BenchmarkUpload(b *testing.B) {
	for _, tc := range uploadBenchCARs {
		b.Run(tc.name, func(b *testing.B) {
			bin := buildBinary(b)
			var secs, mb, nblocks, peak, cpu float64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				s, root := cartest.NewStream(b, tc.blocks, tc.size, uint64(i))
				size := s.Len()
				dir, addr := tempData(b), freeAddr(b)
				proc := startProcess(b, bin, dir, addr, benchFlags()...)
				token := readToken(b, dir)
				waitUp(b, pinclient.NewClient("http://"+addr, token))
				b.StartTimer()

				cpu0 := cpuSeconds(b, proc.Process.Pid)
				start := time.Now()
				status, res, body := postCAR(b, addr, token, "", s, size)
				elapsed := time.Since(start)
				b.StopTimer()
				cpu += cpuSeconds(b, proc.Process.Pid) - cpu0
				if status != 200 || res.Results[0].Status != tack.StatusPinned || res.Results[0].Pin.CID != root.String() {
					b.Fatalf("got %d %s", status, body)
				}
				secs += elapsed.Seconds()
				mb += float64(size) / 1e6
				nblocks += float64(tc.blocks)
				peak = max(peak, float64(peakRSS(b, proc.Process.Pid))/(1<<20))
				proc.Process.Kill()
				proc.Wait()
			}
			b.ReportMetric(mb/secs, "MB/s")
			b.ReportMetric(nblocks/secs, "blocks/s")
			b.ReportMetric(peak, "peak-MiB")
			b.ReportMetric(cpu/float64(b.N), "server-cpu-s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// cpuSeconds returns the user plus system CPU time a process has used.
func cpuSeconds(tb testing.TB, pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	// The fields after the command's parenthesis: utime and stime are the
	// 14th and 15th of the line, in clock ticks (100 a second on Linux).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100
}

var uploadBenchCARs = []struct {
	name         string
	blocks, size int
}{
	{"1GiB-of-1MiB-blocks", 1024, 1 << 20},
	{"1GiB-of-1KiB-blocks", 1 << 20, 1 << 10},
}

// BenchmarkUploadInProcess is BenchmarkUpload with tack in the test's
// process, so that -cpuprofile shows where the time goes.
func BenchmarkUploadInProcess(b *testing.B) {
	for _, tc := range uploadBenchCARs {
		b.Run(tc.name, func(b *testing.B) {
			var secs, mb float64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				s, _ := cartest.NewStream(b, tc.blocks, tc.size, uint64(i))
				size := s.Len()
				dir := tempData(b)
				m := MustOpenMain(b, dir)
				b.StartTimer()
				start := time.Now()
				status, _, body := postCAR(b, m.HTTPAddr(), m.AdminToken, "", s, size)
				secs += time.Since(start).Seconds()
				b.StopTimer()
				if status != 200 {
					b.Fatalf("got %d %s", status, body)
				}
				mb += float64(size) / 1e6
				m.Close()
			}
			b.ReportMetric(mb/secs, "MB/s")
			b.ReportMetric(float64(tc.blocks*b.N)/secs, "blocks/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// The pins page's Upload a CAR form in Chromium: the progress bar fills,
// the page says what became of the root, and the request is pinned; a
// broken CAR shows the API's reason.
func TestBrowserUploadCAR(t *testing.T) {
	browser := mustBrowser(t)
	m := MustOpenMain(t, tempData(t))
	site := m.Config.PublicURL
	s, root := cartest.NewStream(t, 24, 1<<20, 7)
	good, err := io.ReadAll(s)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	goodFile, badFile := filepath.Join(dir, "dag.car"), filepath.Join(dir, "broken.car")
	if err := os.WriteFile(goodFile, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(badFile, good[:len(good)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	tab := newBrowserContext(t, browser)
	browse(t, tab, "sign in and upload a CAR",
		chromedp.Navigate(site+"/signin"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=email]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "admin"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), m.AdminPassword),
		chromedp.Submit(chromedp.CSS(`input[name=password]`)),
		waitLocation(site+"/dashboard"),
		chromedp.WaitVisible(chromedp.CSS(`#car-form`)),
		chromedp.SendKeys(chromedp.CSS(`#car-form input[name=name]`), "from chromium"),
		chromedp.SetUploadFiles(chromedp.CSS(`#car-form input[name=car]`), []string{goodFile}),
		chromedp.Click(chromedp.CSS(`#car-form button[type=submit]`)),
		waitText("#car-status", "Uploaded: "+root.String()+" pinned"),
		screenshot(t, "12-car-uploaded"),
	)
	full := read(t, tab, "progress", chromedp.Evaluate[bool](`(() => { const p = document.getElementById("car-progress"); return !p.hidden && p.value === p.max && p.max >= `+fmt.Sprint(len(good))+`; })()`))
	if !full {
		t.Error("the progress bar is not full after the upload")
	}
	browse(t, tab, "the pins page lists it", waitText("#live", "from chromium"))
	reqs, _, err := m.DB.FindPins(context.Background(), tack.PinFilter{AccountID: 1, Statuses: []tack.Status{tack.StatusPinned}, Limit: 10})
	if err != nil || len(reqs) != 1 || reqs[0].Pin.Name != "from chromium" {
		t.Fatalf("pinned requests: %v, %v", reqs, err)
	}
	browse(t, tab, "upload a broken CAR",
		chromedp.WaitVisible(chromedp.CSS(`#car-form`)),
		chromedp.SetUploadFiles(chromedp.CSS(`#car-form input[name=car]`), []string{badFile}),
		chromedp.Click(chromedp.CSS(`#car-form button[type=submit]`)),
		waitText("#car-status", "Upload failed: "),
		waitText("#car-status", "truncated CAR"),
		screenshot(t, "13-car-refused"),
	)
}
