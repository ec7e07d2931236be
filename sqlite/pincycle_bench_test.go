package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tack-ipfs/tack"
)

// BenchmarkPinCycle: the store's writes for each pin request, as the API
// and the pinner make them: 8 clients create requests with the name,
// origins and meta of BenchmarkFindPins, a worker claims them 64 at a
// time, and 8 goroutines complete each one's DAG, pinning it. It reports
// the CPU time per request, and the store's file size per request at the
// end, checkpointed.
//
//	go test ./sqlite -run '^$' -bench PinCycle -benchtime 20000x
func BenchmarkPinCycle(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "tack.db")
	db, err := Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	a := &tack.Account{Email: "p@example.com", Access: tack.AccessApproved}
	if err := db.CreateAccount(ctx, a); err != nil {
		b.Fatal(err)
	}
	const batch = 64
	created := make(chan struct{}, b.N)
	var wg sync.WaitGroup
	b.ResetTimer()
	cpu := cpuTime(b)
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < b.N; i += 8 {
				r := &tack.PinRequest{AccountID: a.ID, Key: fmt.Sprintf("k%07d", i), Pin: tack.Pin{
					CID:     fmt.Sprintf("bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbz%07d", i),
					Name:    fmt.Sprintf("backup-2026-12-%06d.tar", i),
					Origins: []string{"/ip4/203.0.113.7/tcp/4001/p2p/12D3KooWGC6TvWhfapngX6wvJHMYvKpDMXPb3ZnCZ6dMoaMtimQ5"},
					Meta:    map[string]string{"app": "backup", "host": "web-3"},
				}}
				if err := db.CreatePin(ctx, r); err != nil {
					b.Error(err)
					return
				}
				created <- struct{}{}
			}
		})
	}
	claimed := make(chan *tack.PinRequest, batch)
	wg.Go(func() {
		defer close(claimed)
		for done := 0; done < b.N; {
			for range min(batch, b.N-done) {
				<-created
			}
			pins, err := db.ClaimPins(ctx, "w", batch, time.Now().Add(time.Hour))
			if err != nil {
				b.Error(err)
				return
			}
			for _, r := range pins {
				claimed <- r
			}
			done += len(pins)
		}
	})
	for range 8 {
		wg.Go(func() {
			for r := range claimed {
				if err := db.CompleteDAG(ctx, &tack.DAG{Key: r.Key, Blocks: 120, Bytes: 31_457_280}); err != nil {
					b.Error(err)
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(cpuTime(b)-cpu)/1e3/float64(b.N), "cpu-µs/pin")
	if _, err := db.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(fi.Size())/float64(b.N), "file-B/pin")
}
