package http_test

import (
	"github.com/tack-ipfs/tack"
	"net/http"
	"testing"
	"time"

	tackhttp "github.com/tack-ipfs/tack/http"
)

// The operator's page shows how many keys the node keeps provided, and
// when the last reprovide cycle ended and how long it took.
func TestWebProvideStatus(t *testing.T) {
	end := time.Date(2026, 11, 29, 6, 0, 0, 0, time.UTC)
	status := tack.ProvideStats{
		Enabled: true, Strategy: "all", Interval: 22 * time.Hour, Connectivity: "online",
		Keys: 1234567, Provided: 2500000, Failed: 3, Synced: end.Add(-time.Hour),
		Last: &tack.ReprovideCycle{Start: end.Add(-22 * time.Hour), End: end, Provided: 1234000, Late: 2},
	}
	e := newWebEnv(t, func(w *tackhttp.Web) {
		w.Providing = func() tack.ProvideStats { return status }
	})
	op, _ := e.MustOperator(t, "op@example.com")
	MustSee(t, "providing", op.get(t, "/admin"), http.StatusOK,
		"Providing on the DHT", "every block (all), again every 22h; online", "1,234,567 keys",
		"2,500,000 since start", "3 failed",
		"ended 2026-11-29 06:00 UTC after 22h: 1,234,000 keys announced", "2 regions late")

	status = tack.ProvideStats{Enabled: true, Strategy: "roots", Interval: 90 * time.Second, Connectivity: "offline"}
	MustSee(t, "providing, no cycle yet", op.get(t, "/admin"), http.StatusOK,
		"the root of every pinned DAG (roots), again every 1m30s; offline", "no cycle has ended yet")

	status = tack.ProvideStats{}
	MustSee(t, "providing off", op.get(t, "/admin"), http.StatusOK, "Off: the DHT is off")
}
