package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	pinclient "github.com/ipfs/boxo/pinning/remote/client"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// BenchmarkFarLink pins the same DAGs from Kubo providers that tack and a
// Kubo client reach only through far links: each provider sits behind its
// own Toxiproxy proxy (in this process) that adds 40 ms each way (80 ms
// RTT) and caps each direction at 200 Mbit/s. Per DAG and per iteration it
// measures, interleaved and each from an empty store, tack and Kubo from one
// provider, then tack and Kubo from two providers holding the same DAG. It
// reports MB/s (file bytes) and blocks/s of each, the tack/Kubo ratios, and
// what the second provider gained each client (2p/1p), and the median and
// range of each round's tack/Kubo (see BenchmarkLoopback).
//
// Sizes and the link are set by env: TACK_FARLINK_BIG_MIB (64),
// TACK_FARLINK_SMALL_MIB (8, in 1 KiB blocks), TACK_FARLINK_RTT_MS (80),
// TACK_FARLINK_MBIT (200). TACK_FARLINK_BASE_BIN, if set to another tack
// binary (built from main, say), adds it as a third client measured in the
// same rounds ("base-" metrics, and tack/base: this tree against it), to
// compare a change before and after.
//
//	TACK_KUBO=~/.cache/tack/kubo-v0.42.0/ipfs go test ./cmd/tack -run '^$' -bench FarLink -benchtime 1x
func BenchmarkFarLink(b *testing.B) {
	if os.Getenv("TACK_KUBO") == "" {
		b.Skip("set TACK_KUBO to a Kubo binary to compare with over far links")
	}
	bin := kuboBin(b)
	tackBin := buildBinary(b)
	rtt := envInt(b, "TACK_FARLINK_RTT_MS", 80)
	mbit := envInt(b, "TACK_FARLINK_MBIT", 200)
	base := os.Getenv("TACK_FARLINK_BASE_BIN")

	// Two providers, each behind a far link of its own.
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	var providers []*kubo
	var links [][]multiaddr.Multiaddr
	for i := range 2 {
		p := startKubo(b, bin)
		providers = append(providers, p)
		links = append(links, []multiaddr.Multiaddr{farLink(b, srv, p, i, rtt/2, mbit)})
	}

	for _, d := range []struct {
		name  string
		mib   int
		chunk string
	}{
		{"big", envInt(b, "TACK_FARLINK_BIG_MIB", 64), "size-262144"},
		{"1KiB-blocks", envInt(b, "TACK_FARLINK_SMALL_MIB", 8), "size-1024"},
	} {
		b.Run(fmt.Sprintf("%s-%dMiB", d.name, d.mib), func(b *testing.B) {
			sum := map[string]float64{}      // client and providers: seconds
			rounds := map[string][]float64{} // "kubo-1p": each round's kubo/tack from one provider
			var bytes, blocks float64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				root, n := addToAll(b, providers, d.mib<<20, "--cid-version=1", "--chunker="+d.chunk)
				bytes += float64(d.mib << 20)
				blocks += float64(n)
				for _, np := range []int{1, 2} {
					var origins []multiaddr.Multiaddr
					for _, l := range links[:np] {
						origins = append(origins, l...)
					}
					// Alternate who goes first, so neither always meets a
					// provider that has just served the same blocks.
					order := []string{"tack", "kubo"}
					if base != "" {
						order = append(order, "base")
					}
					order = rotate(order, i)
					round := map[string]float64{}
					for _, who := range order {
						settle()
						sent := blocksSent(b, providers[:np])
						var c fetchCost
						switch who {
						case "tack":
							c = farTack(b, tackBin, root, origins)
						case "base":
							c = farTack(b, base, root, origins)
						case "kubo":
							c = farKubo(b, bin, root, origins)
						}
						after := blocksSent(b, providers[:np])
						for j := range after {
							after[j] -= sent[j]
						}
						b.Logf("%s from %d provider(s): %.2f s; blocks each sent: %v", who, np, c.secs, after)
						sum[fmt.Sprintf("%s-%dp", who, np)] += c.secs
						round[who] = c.secs
					}
					for _, who := range order {
						if who != "tack" {
							k := fmt.Sprintf("%s-%dp", who, np)
							rounds[k] = append(rounds[k], round[who]/round["tack"])
						}
					}
				}
			}
			clients := []string{"tack", "kubo"}
			if base != "" {
				clients = append(clients, "base")
			}
			for _, who := range clients {
				for _, np := range []int{1, 2} {
					s := sum[fmt.Sprintf("%s-%dp", who, np)]
					b.ReportMetric(bytes/1e6/s, fmt.Sprintf("%s-%dp-MB/s", who, np))
					b.ReportMetric(blocks/s, fmt.Sprintf("%s-%dp-blocks/s", who, np))
				}
				b.ReportMetric(sum[who+"-1p"]/sum[who+"-2p"], who+"-2p/1p")
			}
			for _, np := range []int{1, 2} {
				b.ReportMetric(sum[fmt.Sprintf("kubo-%dp", np)]/sum[fmt.Sprintf("tack-%dp", np)], fmt.Sprintf("tack/kubo-%dp", np))
				reportRounds(b, fmt.Sprintf("tack/kubo-%dp", np), rounds[fmt.Sprintf("kubo-%dp", np)])
				if base != "" {
					b.ReportMetric(sum[fmt.Sprintf("base-%dp", np)]/sum[fmt.Sprintf("tack-%dp", np)], fmt.Sprintf("tack/base-%dp", np))
					reportRounds(b, fmt.Sprintf("tack/base-%dp", np), rounds[fmt.Sprintf("base-%dp", np)])
				}
			}
			b.ReportMetric(0, "ns/op")
		})
	}
}

// envInt returns a positive integer from the environment, or def.
func envInt(tb testing.TB, name string, def int) int {
	tb.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		tb.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

// farLink puts a Toxiproxy proxy in front of a Kubo daemon's TCP swarm
// address, adding delay ms and a cap of mbit Mbit/s in each direction, and
// returns the proxy's address with the daemon's peer ID.
func farLink(tb testing.TB, srv *toxiproxy.ApiServer, k *kubo, i, delay, mbit int) multiaddr.Multiaddr {
	tb.Helper()
	id := strings.TrimSpace(k.Run(tb, "id", "-f", "<id>"))
	upstream := "127.0.0.1:" + kuboTCPPort(tb, k)
	p := toxiproxy.NewProxy(srv, fmt.Sprintf("provider%d", i), "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(p.Stop)
	for _, dir := range []string{"upstream", "downstream"} {
		for _, t := range []string{
			fmt.Sprintf(`{"type":"latency","stream":%q,"attributes":{"latency":%d}}`, dir, delay),
			// Toxiproxy's rate is in KB/s.
			fmt.Sprintf(`{"type":"bandwidth","stream":%q,"attributes":{"rate":%d}}`, dir, mbit*1000/8),
		} {
			if _, err := p.Toxics.AddToxicJson(strings.NewReader(t)); err != nil {
				tb.Fatal(err)
			}
		}
	}
	host, port, _ := strings.Cut(p.Listen, ":")
	return multiaddr.StringCast("/ip4/" + host + "/tcp/" + port + "/p2p/" + id)
}

// blocksSent returns how many blocks each Kubo daemon has sent so far.
func blocksSent(tb testing.TB, ks []*kubo) []int {
	tb.Helper()
	n := make([]int, len(ks))
	for i, k := range ks {
		var st struct{ BlocksSent int }
		if err := json.Unmarshal([]byte(k.Run(tb, "bitswap", "stat", "--enc=json")), &st); err != nil {
			tb.Fatal(err)
		}
		n[i] = st.BlocksSent
	}
	return n
}

// kuboTCPPort returns the port of a Kubo daemon's loopback TCP swarm
// address.
func kuboTCPPort(tb testing.TB, k *kubo) string {
	tb.Helper()
	for _, a := range strings.Fields(k.Run(tb, "id", "-f", "<addrs>\n")) {
		ma, err := multiaddr.NewMultiaddr(a)
		if err != nil {
			continue
		}
		ip, err1 := ma.ValueForProtocol(multiaddr.P_IP4)
		port, err2 := ma.ValueForProtocol(multiaddr.P_TCP)
		if err1 == nil && err2 == nil && ip == "127.0.0.1" && !strings.Contains(a, "/ws") {
			return port
		}
	}
	tb.Fatal("Kubo listens on no loopback TCP address")
	return ""
}

// addToAll adds the same random file of size bytes to every provider with
// the options of `ipfs add` given and returns its root and how many blocks
// the DAG has.
func addToAll(tb testing.TB, providers []*kubo, size int, add ...string) (cid.Cid, int) {
	tb.Helper()
	f := providers[0].randomFile(tb, size)
	var root string
	for _, p := range providers {
		r := strings.TrimSpace(p.Run(tb, append([]string{"add", "-Q"}, append(add, f)...)...))
		if root != "" && r != root {
			tb.Fatalf("providers disagree on the root: %s and %s", root, r)
		}
		root = r
	}
	os.Remove(f)
	refs := strings.Fields(providers[0].Run(tb, "refs", "-r", "--unique", root))
	c, err := cid.Decode(root)
	if err != nil {
		tb.Fatal(err)
	}
	return c, len(refs) + 1
}

// fetchCost is what one client's fetch took: seconds of wall clock, and
// seconds of CPU of the client's process.
type fetchCost struct{ secs, cpu float64 }

// farTack starts a tack process with an empty store, pins root with
// origins, and returns the time from the post until it is pinned.
func farTack(tb testing.TB, bin string, root cid.Cid, origins []multiaddr.Multiaddr) fetchCost {
	tb.Helper()
	ctx := context.Background()
	proc, c := startBenchTack(tb, bin)
	defer func() { proc.Process.Kill(); proc.Wait() }()
	cpu := cpuSeconds(tb, proc.Process.Pid)
	start := time.Now()
	ps, err := c.Add(ctx, root, pinclient.PinOpts.WithOrigins(origins...))
	if err != nil {
		tb.Fatal(err)
	}
	waitPinned(tb, c, ps.GetRequestId(), 10*time.Millisecond)
	return fetchCost{time.Since(start).Seconds(), cpuSeconds(tb, proc.Process.Pid) - cpu}
}

// farKubo starts a Kubo daemon with an empty store, connects it to origins,
// and returns the time `ipfs pin add` of root takes.
func farKubo(tb testing.TB, bin string, root cid.Cid, origins []multiaddr.Multiaddr) fetchCost {
	tb.Helper()
	k := startKubo(tb, bin)
	defer k.run("shutdown")
	cpu := cpuSeconds(tb, k.pid)
	start := time.Now()
	for _, o := range origins {
		k.RPC(tb, "/api/v0/swarm/connect?arg="+url.QueryEscape(o.String()))
	}
	k.RPC(tb, "/api/v0/pin/add?arg="+root.String())
	return fetchCost{time.Since(start).Seconds(), cpuSeconds(tb, k.pid) - cpu}
}
