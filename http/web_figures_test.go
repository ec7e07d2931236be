package http_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tack-ipfs/tack"
	tackhttp "github.com/tack-ipfs/tack/http"
)

// TestWebAdminFigures: the operator's page shows the service's headline
// figures from the stats the metrics read: the queue and the pins by
// status from the store's counts, stored bytes, the pinner's fetches and
// speed between two samples of its fetched bytes, and the last garbage
// collection.
func TestWebAdminFigures(t *testing.T) {
	var mu sync.Mutex
	pinner := tack.PinnerStats{}
	gcStats := tack.GCStats{}
	e := newWebEnv(t, func(w *tackhttp.Web) {
		w.Pinner = func() tack.PinnerStats { mu.Lock(); defer mu.Unlock(); return pinner }
		w.GC = func() tack.GCStats { mu.Lock(); defer mu.Unlock(); return gcStats }
	})
	op, _ := e.MustOperator(t, "op@example.com")
	_, _, token := e.MustApprovedUser(t, "alice@example.com")
	for _, data := range []string{"a", "b", "c"} {
		e.MustCreate(t, token, pinBody(t, data))
	}
	MustSee(t, "figures, nothing fetched", op.get(t, "/admin"), http.StatusOK,
		`id="figures"`, "3 queued", "0 pinning", "0 pinned", "0 failed", "0 B pinned",
		"0 DAG fetches running", "0 B received since start", "Garbage collection</dt><dd>none since start")

	end := time.Date(2026, 12, 6, 23, 0, 0, 0, time.UTC)
	mu.Lock()
	pinner = tack.PinnerStats{Fetches: 1, FetchedBytes: 10 << 20}
	gcStats = tack.GCStats{Runs: 4, Failed: 1, Last: &tack.GCRun{Start: end.Add(-2 * time.Second), End: end, FreedBlocks: 1234, FreedBytes: 3 << 20}}
	mu.Unlock()
	e.advance(20 * time.Second)
	p := op.get(t, "/admin")
	MustSee(t, "figures, fetching", p, http.StatusOK,
		"1 DAG fetch running", "512.0 KiB/s over the last 20s", "10.0 MiB received since start",
		"last ran 2026-12-06 23:00 UTC, for 2s, freeing 1,234 blocks (3.0 MiB)", "1 failed</span> since start")
	if strings.Contains(p.body, "none since start") {
		t.Error("the page says no collection ran after one did")
	}
	mu.Lock()
	gcStats.Last.Err = "store down"
	mu.Unlock()
	MustSee(t, "figures, failed collection", op.get(t, "/admin"), http.StatusOK, `last <span class="badge failed">failed</span> 2026-12-06 23:00 UTC`)
}
