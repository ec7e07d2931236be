package migrate

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tack-ipfs/tack/internal/testpeer"
)

// hostileSource is a Pinning Service API that answers GET /pins with
// page(n, r) for the n-th request, from 0, and counts the bytes it wrote.
func hostileSource(t *testing.T, page func(n int, w http.ResponseWriter, r *http.Request)) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var served atomic.Int64
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/pins" {
			http.Error(w, "not here", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		page(int(n.Add(1)-1), countingWriter{w, &served}, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &served
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n.Add(int64(n))
	return n, err
}

// liveHeap returns the bytes of the heap that are in use after a
// collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// A source that pages forever, each page older than the last, with a
// kilobyte of meta on each of its 1,000 requests, does not make migrate
// hold what it sent: the heap stays within a few pages of where it began
// while the source sends over a hundred MiB. A page that does not get
// older ends the run with an error.
func TestMigrateHostileEndlessPaging(t *testing.T) {
	dst := newTarget(t, nil)
	c := testpeer.RandomRawCID(t).String()
	meta := strings.Repeat("m", 1000)
	const pages = 120
	start := time.Now()
	var mu sync.Mutex
	var peak uint64
	src, served := hostileSource(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n%10 == 9 {
			h := liveHeap()
			mu.Lock()
			peak = max(peak, h)
			mu.Unlock()
		}
		if n == pages {
			n-- // the same page again: its cursor does not move
		}
		type pin struct {
			CID  string            `json:"cid"`
			Meta map[string]string `json:"meta"`
		}
		type status struct {
			RequestID string    `json:"requestid"`
			Status    string    `json:"status"`
			Created   time.Time `json:"created"`
			Pin       pin       `json:"pin"`
			Delegates []string  `json:"delegates"`
		}
		res := struct {
			Count   int      `json:"count"`
			Results []status `json:"results"`
		}{Count: 1 << 30}
		for i := range 1000 {
			res.Results = append(res.Results, status{
				RequestID: fmt.Sprintf("r%d-%d", n, i), Status: "pinned",
				Created: start.Add(-time.Duration(n*1000+i) * time.Millisecond),
				Pin:     pin{CID: c, Meta: map[string]string{"k": meta}}, Delegates: []string{},
			})
		}
		json.NewEncoder(w).Encode(res)
	})
	base := liveHeap()
	if err := migrateErr(t, src.URL, dst); !strings.Contains(err, "do not get older") {
		t.Errorf("error %q, want the source's pages refused", err)
	}
	mu.Lock()
	defer mu.Unlock()
	grew := int64(peak) - int64(base)
	t.Logf("the source sent %d MiB; the live heap grew by at most %d MiB", served.Load()>>20, grew>>20)
	if served.Load() < 100<<20 {
		t.Fatalf("the source sent only %d MiB: the test proves nothing", served.Load()>>20)
	}
	if grew > 40<<20 {
		t.Errorf("the live heap grew by %d MiB while the source sent %d MiB, want at most 40", grew>>20, served.Load()>>20)
	}
}

// An answer larger than migrate reads, or with more results than the
// limit asked for, stops the run with a clear error, and migrate reads
// little of it.
func TestMigrateHostileHugeAnswer(t *testing.T) {
	dst := newTarget(t, nil)
	c := testpeer.RandomRawCID(t).String()
	for _, tt := range []struct {
		name string
		page func(w io.Writer)
		want string
	}{
		{"64 MiB", func(w io.Writer) {
			fmt.Fprintf(w, `{"count":1,"results":[{"requestid":"r","status":"pinned","created":"2026-01-01T00:00:00Z","pin":{"cid":%q,"name":"`, c)
			chunk := []byte(strings.Repeat("a", 64<<10))
			for range 1024 {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
			fmt.Fprint(w, `"},"delegates":[]}]}`)
		}, "larger than 8 MiB"},
		{"a million results", func(w io.Writer) {
			fmt.Fprint(w, `{"count":1000000,"results":[{}`+strings.Repeat(`,{}`, 1e6-1)+`]}`)
		}, "more results than the limit"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var most atomic.Int64
			src, _ := hostileSource(t, func(n int, w http.ResponseWriter, r *http.Request) {
				var sent atomic.Int64
				tt.page(countingWriter{w, &sent})
				for m := most.Load(); sent.Load() > m && !most.CompareAndSwap(m, sent.Load()); m = most.Load() {
				}
			})
			if err := migrateErr(t, src.URL, dst); !strings.Contains(err, tt.want) {
				t.Errorf("error %q, want it to say %q", err, tt.want)
			}
			t.Logf("the most the source wrote of one answer: %d KiB", most.Load()>>10)
			if m := most.Load(); m > 32<<20 {
				t.Errorf("the source wrote %d MiB of one answer before migrate stopped reading, want under 32", m>>20)
			}
		})
	}
}

// A source that redirects to another port of the same host does not get
// the token there: migrate stops and says why. A redirect within the
// source's origin is followed.
func TestMigrateRedirectToAnotherOrigin(t *testing.T) {
	dst := newTarget(t, nil)
	var mu sync.Mutex
	var got []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"count":0,"results":[]}`)
	}))
	defer other.Close()
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v2/") {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"count":0,"results":[]}`)
			return
		}
		to := other.URL
		if r.URL.Path == "/same/pins" {
			to = ""
			r.URL.Path = "/v2/pins"
		}
		http.Redirect(w, r, to+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	defer src.Close()

	err := migrateErr(t, src.URL, dst)
	mu.Lock()
	if len(got) > 0 {
		t.Errorf("the other port got Authorization %q", got)
	}
	mu.Unlock()
	if !strings.Contains(err, "another origin") {
		t.Errorf("error %q, want it to say the source redirects to another origin", err)
	}

	if err := migrateErr(t, src.URL+"/same", dst); err != "" {
		t.Errorf("a redirect within the origin: %s, want it followed", err)
	}
}

// The summary groups items by at most maxReasonGroups reasons, and the
// rest together, so that a source that gives every item a reason of its
// own does not grow it: each group keeps ten items at most.
func TestMigrateSummaryBounded(t *testing.T) {
	var out strings.Builder
	rep := newReport(&out, &out)
	for i := range 1000 {
		rep.count(&migrateItem{text: fmt.Sprint("item ", i), outcome: failed, reason: fmt.Sprint("reason ", i)})
	}
	rep.summary(false)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1+maxReasonGroups+1 || !strings.Contains(out.String(), "failed 950: other reasons, in the lines above (item 50, ") || !strings.Contains(out.String(), " and 940 more)") {
		t.Errorf("summary of 1,000 reasons:\n%s", out.String())
	}
	if n := len(rep.groups); n > maxReasonGroups+1 {
		t.Errorf("%d groups kept", n)
	}
}

// A source whose pages of 1,000 are over the 8 MiB migrate reads, because
// each request carries 9 KiB of meta, is read in pages of 500 instead.
func TestMigrateLargePages(t *testing.T) {
	dst := newTarget(t, nil)
	cids := []string{testpeer.RandomRawCID(t).String(), testpeer.RandomRawCID(t).String(), testpeer.RandomRawCID(t).String()}
	meta := map[string]string{"a": strings.Repeat("m", 3<<10), "b": strings.Repeat("m", 3<<10), "c": strings.Repeat("m", 3<<10)}
	start := time.Now().Add(-time.Hour)
	const total = 1000
	var limits sync.Map
	src, _ := hostileSource(t, func(n int, w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		limit, _ := strconv.Atoi(q.Get("limit"))
		limits.Store(limit, true)
		before := time.Now()
		if b := q.Get("before"); b != "" {
			before, _ = time.Parse(time.RFC3339Nano, b)
		}
		type result struct {
			RequestID string            `json:"requestid"`
			Status    string            `json:"status"`
			Created   time.Time         `json:"created"`
			Pin       map[string]any    `json:"pin"`
			Delegates []string          `json:"delegates"`
			Info      map[string]string `json:"info,omitempty"`
		}
		res := struct {
			Count   int      `json:"count"`
			Results []result `json:"results"`
		}{Results: []result{}}
		for i := range total { // newest first
			created := start.Add(-time.Duration(i) * time.Second)
			if !created.Before(before) {
				continue
			}
			res.Count++
			if len(res.Results) < limit {
				res.Results = append(res.Results, result{RequestID: fmt.Sprint(i), Status: "pinned", Created: created,
					Pin: map[string]any{"cid": cids[i%3], "meta": meta}, Delegates: []string{}})
			}
		}
		json.NewEncoder(w).Encode(res)
	})
	out, err := migrateFrom(t, src.URL, dst)
	if err != nil || !strings.Contains(out, "3 created, 997 skipped, 0 failed") {
		t.Errorf("error %v, want none with 3 created and 997 skipped", err)
	}
	if _, ok := limits.Load(500); !ok {
		t.Errorf("the source was never asked for 500")
	}
}
