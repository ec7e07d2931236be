package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/tack-ipfs/tack"
)

// cpuTime is the CPU time the process has used, user and system.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFindPins: a page of 1,000 requests from an account of 30,000,
// as `GET /pins?limit=1000` reads it (pinned ones, the API's default) and
// with every status. It reports the CPU time per 1,000 rows, which the
// machine's other load does not change as much as the wall clock.
//
//	go test ./sqlite -run '^$' -bench FindPins -benchtime 200x
func BenchmarkFindPins(b *testing.B) {
	const pins = 30_000
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "tack.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	a := &tack.Account{Email: "l@example.com", Access: tack.AccessApproved}
	if err := db.CreateAccount(ctx, a); err != nil {
		b.Fatal(err)
	}
	statuses := []tack.Status{tack.StatusPinned, tack.StatusPinned, tack.StatusPinned, tack.StatusQueued, tack.StatusFailed}
	err = db.write(ctx, func(ctx context.Context, tx *txn) error {
		for i := range pins {
			cid := fmt.Sprintf("bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbz%06d", i)
			name := fmt.Sprintf("backup-2026-12-%06d.tar", i)
			if _, err := tx.ExecContext(ctx, `
				INSERT INTO pins (id, account_id, cid, key, name, name_lower, origins, meta, status, created, details, blocks, bytes, turn)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				fmt.Sprintf("0193b5c2-7d4e-7a1b-9c3d-%012d", i), a.ID, cid, "k"+cid, name, name,
				`["/ip4/203.0.113.7/tcp/4001/p2p/12D3KooWGC6TvWhfapngX6wvJHMYvKpDMXPb3ZnCZ6dMoaMtimQ5"]`,
				`{"app":"backup","host":"web-3"}`, string(statuses[i%len(statuses)]),
				int64(1_700_000_000_000_000+i), "", 120, 31_457_280, i+1); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		statuses []tack.Status
	}{
		{"pinned", []tack.Status{tack.StatusPinned}},
		{"any-status", nil},
	} {
		b.Run(tc.name, func(b *testing.B) {
			rows := 0
			cpu := cpuTime(b)
			for b.Loop() {
				reqs, _, err := db.FindPins(ctx, tack.PinFilter{AccountID: a.ID, Statuses: tc.statuses, Limit: 1000})
				if err != nil {
					b.Fatal(err)
				}
				if len(reqs) != 1000 {
					b.Fatalf("%d requests, want 1000", len(reqs))
				}
				rows += len(reqs)
			}
			b.ReportMetric(float64(cpuTime(b)-cpu)/1e6/float64(rows)*1000, "cpu-ms/1000rows")
		})
	}
}
