package http_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/tack-ipfs/tack"
	tackhttp "github.com/tack-ipfs/tack/http"
	"golang.org/x/time/rate"
)

// BenchmarkListPins: `GET /pins?limit=1000` over HTTP, a page of 1,000
// pinned requests, the store, the handler and its JSON together. It
// reports the process's CPU time per 1,000 rows, which the machine's other
// load changes less than the wall clock.
//
//	go test ./http -run '^$' -bench ListPins -benchtime 60x
func BenchmarkListPins(b *testing.B) {
	e := newEnv(b, func(s *tackhttp.Server) { s.RateLimit = tackhttp.RateLimit{Rate: rate.Inf} })
	ctx := context.Background()
	_, token := e.MustAccount(b, "l@example.com", tack.AccessApproved)
	c := MustCID(b, cid.DagProtobuf, "a 30 MB backup")
	if err := e.db.CompleteDAG(ctx, &tack.DAG{Key: tack.ContentKey(c), Blocks: 120, Bytes: 31_457_280}); err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < 1000; i += 8 {
				e.MustCreate(b, token, fmt.Sprintf(`{"cid":%q,"name":"backup-2026-12-%04d.tar",`+
					`"origins":["/ip4/203.0.113.7/tcp/4001/p2p/12D3KooWGC6TvWhfapngX6wvJHMYvKpDMXPb3ZnCZ6dMoaMtimQ5"],`+
					`"meta":{"app":"backup","host":"web-3"}}`, c, i))
			}
		})
	}
	wg.Wait()
	req, err := http.NewRequest("GET", e.url+"/pins?limit=1000", nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	cpu := cpuTime(b)
	for b.Loop() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || n < 1000*200 {
			b.Fatalf("status %d, %d bytes, %v", resp.StatusCode, n, err)
		}
	}
	b.ReportMetric(float64(cpuTime(b)-cpu)/1e6/float64(b.N), "cpu-ms/1000rows")
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
