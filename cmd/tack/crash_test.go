package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	pinclient "github.com/ipfs/boxo/pinning/remote/client"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/tack-ipfs/tack/internal/testpeer"
)

// A tack process stopped in the middle of a fetch, killed with SIGKILL or
// shut down with SIGTERM, loses no accepted request, and the restarted
// process finishes the fetch.
func TestStopAndRestartWhileFetching(t *testing.T) {
	// Not parallel: it builds and runs the binary, on an address freeAddr
	// released, which a parallel test could take.
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) { stopAndRestart(t, bin, sig) })
	}
}

func stopAndRestart(t *testing.T, bin string, sig syscall.Signal) {
	dir := tempData(t)
	addr := freeAddr(t)
	ctx := context.Background()

	// The origin holds all of the DAG but a few leaves, so the fetch gets
	// most of the way and then waits: a kill lands mid-fetch for sure.
	peer := testpeer.New(t)
	root := peer.AddFile(t, 8<<20, 4<<10, 1)
	all, err := testpeer.AllCIDs(ctx, peer.Blockstore(), root)
	if err != nil {
		t.Fatal(err)
	}
	var held []blocks.Block
	var leaves []cid.Cid
	for _, c := range all {
		if c.Prefix().Codec == cid.Raw {
			leaves = append(leaves, c)
		}
	}
	for _, c := range leaves[len(leaves)-5:] {
		b, err := peer.Blockstore().Get(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, b)
		if err := peer.Blockstore().DeleteBlock(ctx, c); err != nil {
			t.Fatal(err)
		}
	}

	proc := startProcess(t, bin, dir, addr)
	token := readToken(t, dir)
	c := pinclient.NewClient("http://"+addr, token)
	waitUp(t, c)

	pinning, err := c.Add(ctx, root, pinclient.PinOpts.WithName("big"), pinclient.PinOpts.WithOrigins(Origins(t, peer)...))
	if err != nil {
		t.Fatal(err)
	}
	var queued []string
	for i := 0; i < 5; i++ {
		ps, err := c.Add(ctx, testpeer.RandomRawCID(t))
		if err != nil {
			t.Fatal(err)
		}
		queued = append(queued, ps.GetRequestId())
	}
	// Wait until most blocks are stored, then kill.
	waitFor(t, time.Minute, "the fetch to get most blocks", func() bool {
		ps, err := c.GetStatusByID(ctx, pinning.GetRequestId())
		if err != nil {
			t.Fatal(err)
		}
		return ps.GetStatus() == pinclient.StatusPinning && strings.Contains(ps.GetInfo()["status_details"], strconv.Itoa(len(all)-5)+" blocks")
	})
	if err := proc.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	err = proc.Wait()
	if sig == syscall.SIGTERM && err != nil {
		t.Fatalf("tack after SIGTERM: %v, want a clean exit", err)
	}

	// The missing blocks appear; a new process resumes at once (its own
	// claims come back without waiting for their lease to run out).
	if err := peer.Blockstore().PutMany(ctx, held); err != nil {
		t.Fatal(err)
	}
	startProcess(t, bin, dir, addr)
	waitUp(t, c)
	for _, id := range append(queued, pinning.GetRequestId()) {
		if _, err := c.GetStatusByID(ctx, id); err != nil {
			t.Fatalf("request %s after the restart: %v", id, err)
		}
	}
	WaitStatus(t, c, pinning.GetRequestId(), pinclient.StatusPinned, 20*time.Second)
}

// buildBinary builds the tack command into a temporary directory.
func buildBinary(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "tack")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func startProcess(t testing.TB, bin, dir, addr string, flags ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--data", dir, "--listen", addr, "--p2p-listen", "/ip4/127.0.0.1/tcp/0",
		"--bootstrap", "none", "--dht", "off", "--allow-private-origins"}, flags...)...)
	// The process's output goes to the test's log, shown with -v or when
	// the test fails, and kept out of benchmark results.
	cmd.Stdout, cmd.Stderr = testWriter{t}, testWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

func readToken(t testing.TB, dir string) string {
	t.Helper()
	var b []byte
	waitFor(t, 30*time.Second, "admin.token", func() bool {
		var err error
		b, err = os.ReadFile(filepath.Join(dir, "admin.token"))
		return err == nil && len(b) > 0
	})
	return strings.TrimSpace(string(b))
}

func waitUp(t testing.TB, c *pinclient.Client) {
	t.Helper()
	waitFor(t, 30*time.Second, "tack to serve", func() bool {
		_, _, err := c.LsBatchSync(context.Background(), pinclient.PinOpts.Limit(1))
		return err == nil
	})
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// A migration killed halfway loses nothing: a tack process is killed with
// SIGKILL while 8 clients post 400 small pins (some of them unfindable) and
// it pins them; every request that was answered 202 is there after the
// restart, and every findable one is pinned.
func TestKillMidMigration(t *testing.T) {
	// Not parallel: as TestStopAndRestartWhileFetching.
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	dir, addr := tempData(t), freeAddr(t)
	ctx := context.Background()
	peer := testpeer.New(t)
	roots := addSmallDAGs(t, peer, 400, 16<<10)
	unfindable := map[cid.Cid]bool{}
	for i := 25; i < len(roots); i += 100 {
		roots[i] = testpeer.RandomRawCID(t)
		unfindable[roots[i]] = true
	}
	flags := []string{"--rate-limit", "off", "--pin-stall", "1s", "--pin-retry", "500ms"}
	proc := startProcess(t, bin, dir, addr, flags...)
	c := pinclient.NewClient("http://"+addr, readToken(t, dir))
	waitUp(t, c)
	origins := pinclient.PinOpts.WithOrigins(Origins(t, peer)...)

	var mu sync.Mutex
	accepted := map[string]cid.Cid{}
	work := make(chan cid.Cid)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for root := range work {
				ps, err := c.Add(ctx, root, origins)
				if err != nil {
					continue // the process was killed: this one was never accepted
				}
				mu.Lock()
				accepted[ps.GetRequestId()] = root
				mu.Unlock()
			}
		})
	}
	for i, root := range roots {
		if i == len(roots)/2 {
			// Half posted, some pinned, some fetching: kill.
			waitFor(t, time.Minute, "some pins", func() bool {
				_, n, err := c.LsBatchSync(ctx, pinclient.PinOpts.FilterStatus(pinclient.StatusPinned), pinclient.PinOpts.Limit(1))
				return err == nil && n > 20
			})
			if err := proc.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			proc.Wait()
			proc = startProcess(t, bin, dir, addr, flags...)
			waitUp(t, c)
		}
		work <- root
	}
	close(work)
	wg.Wait()
	if len(accepted) < len(roots)/2 {
		t.Fatalf("only %d of %d requests accepted", len(accepted), len(roots))
	}
	for id, root := range accepted {
		want := pinclient.StatusPinned
		if unfindable[root] {
			ps, err := c.GetStatusByID(ctx, id)
			if err != nil {
				t.Fatalf("accepted request %s lost: %v", id, err)
			}
			if s := ps.GetStatus(); s != pinclient.StatusQueued && s != pinclient.StatusPinning {
				t.Errorf("unfindable %s: %s, want it still being tried", id, s)
			}
			continue
		}
		WaitStatus(t, c, id, want, time.Minute)
	}
}
