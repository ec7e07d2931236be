package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	pinclient "github.com/ipfs/boxo/pinning/remote/client"
	"github.com/ipfs/go-cid"
	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/internal/testpeer"
	"github.com/tack-ipfs/tack/sqlite"
)

// pinBenchDAGs are the files the pin benchmarks pin: the two, and
// one in large blocks for memory.
var pinBenchDAGs = []struct {
	name        string
	size, chunk int
}{
	{"256MiB-in-256KiB-chunks", 256 << 20, 256 << 10},
	{"50MB-in-1KiB-chunks", 50_000_000, 1 << 10},
	{"256MiB-in-1MiB-chunks", 256 << 20, 1 << 20},
}

// BenchmarkPin measures what the issue asks: a tack process pins a DAG from
// an in-process peer over loopback TCP. It reports MB/s, blocks/s and the
// tack process's peak resident memory (VmHWM), which excludes the peer.
//
//	go test ./cmd/tack -run '^$' -bench Pin -benchtime 1x
func BenchmarkPin(b *testing.B) {
	for _, tc := range pinBenchDAGs {
		b.Run(tc.name, func(b *testing.B) {
			bin := buildBinary(b)
			peer := testpeer.New(b)
			ctx := context.Background()
			var secs, mb, nblocks, peak float64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				root := peer.AddFile(b, tc.size, tc.chunk, 1)
				all, err := testpeer.AllCIDs(ctx, peer.Blockstore(), root)
				if err != nil {
					b.Fatal(err)
				}
				dir, addr := tempData(b), freeAddr(b)
				proc := startProcess(b, bin, dir, addr, benchFlags()...)
				c := pinclient.NewClient("http://"+addr, readToken(b, dir))
				waitUp(b, c)
				b.StartTimer()

				start := time.Now()
				ps, err := c.Add(ctx, root, pinclient.PinOpts.WithOrigins(Origins(b, peer)...))
				if err != nil {
					b.Fatal(err)
				}
				ps = waitPinned(b, c, ps.GetRequestId(), 25*time.Millisecond) // under the API's rate limit
				elapsed := time.Since(start)
				b.StopTimer()

				size, _ := strconv.ParseFloat(ps.GetInfo()["dag_size"], 64)
				secs += elapsed.Seconds()
				mb += size / 1e6
				nblocks += float64(len(all))
				peak = max(peak, float64(peakRSS(b, proc.Process.Pid))/(1<<20))
				proc.Process.Kill()
				proc.Wait()
			}
			b.ReportMetric(mb/secs, "MB/s")
			b.ReportMetric(nblocks/secs, "blocks/s")
			b.ReportMetric(peak, "peak-MiB")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// waitPinned polls a pin request every interval until it is pinned, and
// returns its status then; it fails the benchmark if the pin fails.
func waitPinned(tb testing.TB, c *pinclient.Client, id string, every time.Duration) pinclient.PinStatusGetter {
	tb.Helper()
	for {
		ps, err := c.GetStatusByID(context.Background(), id)
		if err != nil {
			tb.Fatal(err)
		}
		if s := ps.GetStatus(); s == pinclient.StatusPinned {
			return ps
		} else if s == pinclient.StatusFailed {
			tb.Fatalf("pin failed: %v", ps.GetInfo())
		}
		time.Sleep(every)
	}
}

// peakRSS returns a process's peak resident set size in bytes.
func peakRSS(tb testing.TB, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	tb.Fatal("no VmHWM in /proc status")
	return 0
}

// BenchmarkPinInProcess pins the same DAGs with tack and the peer in one
// process, so that -cpuprofile shows where both sides spend their time.
//
//	go test ./cmd/tack -run '^$' -bench PinInProcess -benchtime 1x -cpuprofile cpu.out
func BenchmarkPinInProcess(b *testing.B) {
	for _, tc := range pinBenchDAGs {
		b.Run(tc.name, func(b *testing.B) {
			peer := testpeer.New(b)
			ctx := context.Background()
			var secs, mb, nblocks float64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				root := peer.AddFile(b, tc.size, tc.chunk, 1)
				m := MustOpenMain(b, tempData(b))
				b.StartTimer()
				start := time.Now()
				if _, err := m.Client(m.AdminToken).Add(ctx, root, pinclient.PinOpts.WithOrigins(Origins(b, peer)...)); err != nil {
					b.Fatal(err)
				}
				for {
					d, err := m.DB.FindDAG(ctx, tack.ContentKey(root))
					if err == nil {
						secs += time.Since(start).Seconds()
						mb += float64(d.Bytes) / 1e6
						nblocks += float64(d.Blocks)
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
				b.StopTimer()
				m.Close()
			}
			b.ReportMetric(mb/secs, "MB/s")
			b.ReportMetric(nblocks/secs, "blocks/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkManyPins measures a migration's load: 1,000 DAGs of one 64 KiB
// block each, held by one in-process peer, posted 8 at a time with the
// peer as origin to a tack process, until every findable one is pinned.
// The unfindable case replaces 1% of them, spread among the rest, with
// CIDs that nobody has: they must not slow the others down. It reports
// pins/s (findable pins over the time from the first post to the last
// pinned) and the tack process's peak RSS.
//
//	go test ./cmd/tack -run '^$' -bench ManyPins -benchtime 1x -count 3
func BenchmarkManyPins(b *testing.B) {
	for _, tc := range []struct {
		name       string
		unfindable int // of every 100
	}{
		{"1000x64KiB", 0},
		{"1000x64KiB-1pct-unfindable", 1},
	} {
		b.Run(tc.name, func(b *testing.B) {
			bin := buildBinary(b)
			peer := testpeer.New(b)
			ctx := context.Background()
			var secs, pins, peak float64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				roots := addSmallDAGs(b, peer, 1000, 64<<10)
				findable := len(roots)
				for j := 50; j < len(roots); j += 100 {
					for k := 0; k < tc.unfindable; k++ {
						roots[j+k] = testpeer.RandomRawCID(b)
						findable--
					}
				}
				proc, c := startBenchTack(b, bin)
				origins := pinclient.PinOpts.WithOrigins(Origins(b, peer)...)
				settle()
				b.StartTimer()

				start := time.Now()
				addAll(b, c, roots, 8, origins)
				posted := time.Since(start)
				for {
					_, n, err := c.LsBatchSync(ctx, pinclient.PinOpts.FilterStatus(pinclient.StatusPinned), pinclient.PinOpts.Limit(1))
					if err != nil {
						b.Fatal(err)
					}
					if n >= findable {
						break
					}
					if time.Since(start) > 5*time.Minute {
						b.Fatalf("%d of %d pinned after 5 minutes", n, findable)
					}
					time.Sleep(20 * time.Millisecond)
				}
				elapsed := time.Since(start)
				b.StopTimer()
				b.Logf("posted %d in %s, all pinned after %s", len(roots), posted.Round(time.Millisecond), elapsed.Round(time.Millisecond))
				secs += elapsed.Seconds()
				pins += float64(findable)
				peak = max(peak, float64(peakRSS(b, proc.Process.Pid))/(1<<20))
				proc.Process.Kill()
				proc.Wait()
			}
			b.ReportMetric(pins/secs, "pins/s")
			b.ReportMetric(peak, "peak-MiB")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// startBenchTack starts a tack process on a new data directory, without
// rate limits and with benchFlags, and returns it with a client of its
// admin token once it answers.
func startBenchTack(tb testing.TB, bin string) (*exec.Cmd, *pinclient.Client) {
	tb.Helper()
	dir, addr := tempData(tb), freeAddr(tb)
	proc := startProcess(tb, bin, dir, addr, append([]string{"--rate-limit", "off"}, benchFlags()...)...)
	c := pinclient.NewClient("http://"+addr, readToken(tb, dir))
	waitUp(tb, c)
	return proc, c
}

// benchFlags returns extra flags for the tack process of a benchmark, from
// TACK_BENCH_FLAGS (space-separated), such as "--pprof 127.0.0.1:6060" to
// profile it while it runs.
func benchFlags() []string { return strings.Fields(os.Getenv("TACK_BENCH_FLAGS")) }

// startKuboFor starts a fresh Kubo connected to peer, with every dirty
// page of the machine written out, for a benchmark's round.
func startKuboFor(b *testing.B, bin string, peer *testpeer.Peer) *kubo {
	b.Helper()
	k := startKubo(b, bin)
	for _, a := range peer.Addrs() {
		k.RPC(b, "/api/v0/swarm/connect?arg="+url.QueryEscape(a))
	}
	settle()
	return k
}

// BenchmarkManyPinsKubo is the baseline of BenchmarkManyPins: a fresh Kubo
// pins the same kind of 1,000 single-block DAGs from the same kind of peer,
// 8 `ipfs pin add` at a time, after connecting to the peer. Run both in one
// go for a ratio on this shared machine:
//
//	TACK_KUBO=/path/to/ipfs go test ./cmd/tack -run '^$' -bench 'ManyPins' -benchtime 1x -count 3
func BenchmarkManyPinsKubo(b *testing.B) {
	bin := kuboBin(b)
	peer := testpeer.New(b)
	var secs, pins float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		roots := addSmallDAGs(b, peer, 1000, 64<<10)
		kubo := startKuboFor(b, bin, peer)
		b.StartTimer()
		start := time.Now()
		work := make(chan cid.Cid)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for root := range work {
					kubo.RPC(b, "/api/v0/pin/add?arg="+root.String())
				}
			})
		}
		for _, root := range roots {
			work <- root
		}
		close(work)
		wg.Wait()
		secs += time.Since(start).Seconds()
		pins += float64(len(roots))
		b.StopTimer()
	}
	b.ReportMetric(pins/secs, "pins/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkFairness measures what one account's backlog costs another: a
// tack process holds 100,000 queued requests of account A, half of them for
// content nobody has and half for one-block DAGs its peer holds, while it
// works through them; then the admin account posts 10 new pins, and the
// benchmark reports the seconds until all 10 are pinned.
//
//	go test ./cmd/tack -run '^$' -bench Fairness -benchtime 1x
func BenchmarkFairness(b *testing.B) {
	const backlog = 100_000
	bin := buildBinary(b)
	peer := testpeer.New(b)
	ctx := context.Background()
	findable := addSmallDAGs(b, peer, backlog/2, 1<<10)
	var worst, total float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir, addr := tempData(b), freeAddr(b)
		proc := startProcess(b, bin, dir, addr, append([]string{"--rate-limit", "off"}, benchFlags()...)...)
		admin := pinclient.NewClient("http://"+addr, readToken(b, dir))
		waitUp(b, admin)

		// A's backlog goes straight into the store, from this process,
		// while the server runs: SQLite takes writers from both.
		db, err := sqlite.Open(ctx, filepath.Join(dir, "tack.db"))
		if err != nil {
			b.Fatal(err)
		}
		a := &tack.Account{Email: "backlog@example.com", Access: tack.AccessApproved}
		if err := db.CreateAccount(ctx, a); err != nil {
			b.Fatal(err)
		}
		work := make(chan cid.Cid)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for root := range work {
					r := &tack.PinRequest{AccountID: a.ID, Pin: tack.Pin{CID: root.String(), Origins: peer.Addrs()}, Key: tack.ContentKey(root)}
					if err := db.CreatePin(ctx, r); err != nil {
						b.Error(err)
					}
				}
			})
		}
		for j := range backlog {
			if j%2 == 0 {
				work <- findable[j/2]
			} else {
				work <- testpeer.RandomRawCID(b)
			}
		}
		close(work)
		wg.Wait()
		db.Close()

		mine := addSmallDAGs(b, peer, 10, 64<<10)
		b.StartTimer()
		start := time.Now()
		var ids []string
		for _, root := range mine {
			ps, err := admin.Add(ctx, root, pinclient.PinOpts.WithOrigins(Origins(b, peer)...))
			if err != nil {
				b.Fatal(err)
			}
			ids = append(ids, ps.GetRequestId())
		}
		for _, id := range ids {
			for {
				ps, err := admin.GetStatusByID(ctx, id)
				if err != nil {
					b.Fatal(err)
				}
				if ps.GetStatus() == pinclient.StatusPinned {
					break
				}
				if time.Since(start) > 5*time.Minute {
					b.Fatalf("not pinned after 5 minutes: %v", ps.GetInfo())
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		secs := time.Since(start).Seconds()
		b.StopTimer()
		worst, total = max(worst, secs), total+secs
		proc.Process.Kill()
		proc.Wait()
	}
	b.ReportMetric(total/float64(b.N), "s-to-pin-10")
	b.ReportMetric(worst, "worst-s")
	b.ReportMetric(0, "ns/op")
}
