package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	pinclient "github.com/ipfs/boxo/pinning/remote/client"
	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/internal/testpeer"
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
				proc := startProcess(b, bin, dir, addr)
				c := pinclient.NewClient("http://"+addr, readToken(b, dir))
				waitUp(b, c)
				b.StartTimer()

				start := time.Now()
				ps, err := c.Add(ctx, root, pinclient.PinOpts.WithOrigins(Origins(b, peer)...))
				if err != nil {
					b.Fatal(err)
				}
				for {
					ps, err = c.GetStatusByID(ctx, ps.GetRequestId())
					if err != nil {
						b.Fatal(err)
					}
					if s := ps.GetStatus(); s == pinclient.StatusPinned {
						break
					} else if s == pinclient.StatusFailed {
						b.Fatalf("pin failed: %v", ps.GetInfo())
					}
					time.Sleep(25 * time.Millisecond) // under the API's rate limit
				}
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
