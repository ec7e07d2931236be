package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/multiformats/go-multiaddr"
)

// BenchmarkLoopback pins the same DAGs from one Kubo provider on loopback,
// with no link emulated: tack and a Kubo client, each from an empty store,
// taking turns going first. The DAGs are the issue's: a big file with
// Kubo's default chunking (CIDv0, dag-pb leaves of 256 KiB), the same with
// raw leaves (CIDv1), and a file in 1 KiB blocks. It reports MB/s and
// blocks/s of each client and tack/Kubo, and the CPU seconds per GB that
// each client's process and the provider spent on its fetch: on loopback
// both share this machine's cores, so what one client spends, the provider
// lacks. Before each client's turn, every dirty page of the machine is
// written out (settle), so that none pays for another's writes.
//
// Sizes are set by env: TACK_LOOPBACK_BIG_MIB (256), TACK_LOOPBACK_SMALL_MIB
// (20). TACK_BENCH_BASE_BIN, if set to another tack binary (built from main,
// say), adds it to the same rounds ("base-" metrics and tack/base).
//
// tack/kubo is the ratio of the summed times. Each round's own ratio is
// also kept, and their median and range are reported (tack/kubo-median,
// -min, -max): on a shared machine a slow spell weighs on the sum by its
// length, and falls on whoever is fetching, while one round's two fetches
// run a few seconds apart, so the median of the rounds is the steadier
// figure, and the range says how far to trust either.
//
//	TACK_KUBO=~/.cache/tack/kubo-v0.42.0/ipfs go test ./cmd/tack -run '^$' -bench Loopback -benchtime 3x
func BenchmarkLoopback(b *testing.B) {
	if os.Getenv("TACK_KUBO") == "" {
		b.Skip("set TACK_KUBO to a Kubo binary to compare with")
	}
	bin := kuboBin(b)
	tackBin := buildBinary(b)
	base := os.Getenv("TACK_BENCH_BASE_BIN")
	provider := startKubo(b, bin)
	origins := []multiaddr.Multiaddr{loopbackAddr(b, provider)}

	big, small := envInt(b, "TACK_LOOPBACK_BIG_MIB", 256), envInt(b, "TACK_LOOPBACK_SMALL_MIB", 20)
	for _, d := range []struct {
		name string
		mib  int
		add  []string // the options of `ipfs add`
	}{
		{"default-chunking", big, nil},
		{"raw-leaves", big, []string{"--cid-version=1"}},
		{"1KiB-blocks", small, []string{"--cid-version=1", "--chunker=size-1024"}},
	} {
		b.Run(fmt.Sprintf("%s-%dMiB", d.name, d.mib), func(b *testing.B) {
			clients := []string{"tack", "kubo"}
			if base != "" {
				clients = append(clients, "base")
			}
			secs, cpu, served := map[string]float64{}, map[string]float64{}, map[string]float64{}
			var bytes, blocks float64
			var rounds, baseRounds []float64 // each round's kubo/tack and base/tack
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				root, n := addToAll(b, []*kubo{provider}, d.mib<<20, d.add...)
				bytes += float64(d.mib << 20)
				blocks += float64(n)
				order := rotate(clients, i)
				round := map[string]float64{}
				for _, who := range order {
					settle()
					var c fetchCost
					p := cpuSeconds(b, provider.pid)
					switch who {
					case "tack":
						c = farTack(b, tackBin, root, origins)
					case "base":
						c = farTack(b, base, root, origins)
					case "kubo":
						c = farKubo(b, bin, root, origins)
					}
					p = cpuSeconds(b, provider.pid) - p
					b.Logf("%s: %.2f s, %.2f s of CPU, the provider %.2f s", who, c.secs, c.cpu, p)
					secs[who] += c.secs
					round[who] = c.secs
					cpu[who] += c.cpu
					served[who] += p
				}
				rounds = append(rounds, round["kubo"]/round["tack"])
				if base != "" {
					baseRounds = append(baseRounds, round["base"]/round["tack"])
				}
			}
			for _, who := range clients {
				b.ReportMetric(bytes/1e6/secs[who], who+"-MB/s")
				b.ReportMetric(blocks/secs[who], who+"-blocks/s")
				b.ReportMetric(cpu[who]/(bytes/1e9), who+"-cpu-s/GB")
				b.ReportMetric(served[who]/(bytes/1e9), who+"-provider-cpu-s/GB")
			}
			b.ReportMetric(secs["kubo"]/secs["tack"], "tack/kubo")
			reportRounds(b, "tack/kubo", rounds)
			if base != "" {
				b.ReportMetric(secs["base"]/secs["tack"], "tack/base")
				reportRounds(b, "tack/base", baseRounds)
			}
			b.ReportMetric(0, "ns/op")
		})
	}
}

// reportRounds reports the median, least and greatest of the rounds'
// ratios, as name-median, name-min and name-max.
func reportRounds(b *testing.B, name string, ratios []float64) {
	if len(ratios) == 0 {
		return
	}
	r := slices.Clone(ratios)
	slices.Sort(r)
	med := r[len(r)/2]
	if len(r)%2 == 0 {
		med = (r[len(r)/2-1] + med) / 2
	}
	b.ReportMetric(med, name+"-median")
	b.ReportMetric(r[0], name+"-min")
	b.ReportMetric(r[len(r)-1], name+"-max")
}

// rotate returns s turned left by i, so that each client goes first in
// turn.
func rotate(s []string, i int) []string {
	i %= len(s)
	return append(append([]string(nil), s[i:]...), s[:i]...)
}

// loopbackAddr returns a Kubo daemon's loopback TCP address with its peer
// ID.
func loopbackAddr(tb testing.TB, k *kubo) multiaddr.Multiaddr {
	tb.Helper()
	id := strings.TrimSpace(k.Run(tb, "id", "-f", "<id>"))
	return multiaddr.StringCast("/ip4/127.0.0.1/tcp/" + kuboTCPPort(tb, k) + "/p2p/" + id)
}

// settle writes out every dirty page of the machine before a client's
// turn, so that no fetch pays for the writes of the one before it. tack
// syncs its blocks before it calls a pin pinned, and its syncfs(2) also
// writes out whatever else is dirty on the filesystem: without this, a
// tack that follows Kubo (whose `pin add` returns with its blocks still
// in the page cache) or the provider's `ipfs add` paid for their writes
// too.
func settle() { syscall.Sync() }
