package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	nethttp "net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pinclient "github.com/ipfs/boxo/pinning/remote/client"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"github.com/tack-ipfs/tack"
)

// kuboBin returns the Kubo binary the Kubo tests and benchmarks run, from
// TACK_KUBO or the PATH. Without one the test is skipped, unless
// TACK_KUBO_TESTS=required (as in CI), where it fails. Kubo v0.42.0 builds
// from the Go module proxy: `go build -o BIN ./cmd/ipfs` in the folder that
// `go mod download -json github.com/ipfs/kubo@v0.42.0` names (.ci/run does).
func kuboBin(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("TACK_KUBO"); p != "" {
		return p
	}
	p, err := exec.LookPath("ipfs")
	if err != nil {
		if os.Getenv("TACK_KUBO_TESTS") == "required" {
			tb.Fatal("no Kubo: set TACK_KUBO to an ipfs binary")
		}
		tb.Skip("no Kubo: set TACK_KUBO to an ipfs binary (see kuboBin)")
	}
	return p
}

// kubo is a running Kubo daemon on loopback with the test profile and no
// routing: it finds nothing on its own, and serves what it holds to whoever
// connects.
type kubo struct {
	bin, repo, api string
	pid            int // the daemon's
}

// startKubo starts a Kubo daemon, stopped when the test ends.
func startKubo(tb testing.TB, bin string) *kubo {
	tb.Helper()
	k := &kubo{bin: bin, repo: filepath.Join(tb.TempDir(), "ipfs")}
	k.Run(tb, "init", "--profile=test")
	k.Run(tb, "config", "--json", "Routing.Type", `"none"`)
	daemon := exec.Command(bin, "daemon")
	daemon.Env = k.env()
	daemon.Stdout, daemon.Stderr = testWriter{tb}, testWriter{tb}
	if err := daemon.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { daemon.Process.Kill(); daemon.Wait() })
	k.pid = daemon.Process.Pid
	waitFor(tb, time.Minute, "Kubo's API", func() bool {
		b, err := os.ReadFile(filepath.Join(k.repo, "api"))
		if err != nil {
			return false
		}
		ma, err := multiaddr.NewMultiaddr(strings.TrimSpace(string(b)))
		if err != nil {
			return false
		}
		_, addr, err := manet.DialArgs(ma)
		if err != nil {
			return false
		}
		k.api = "http://" + addr
		resp, err := nethttp.Post(k.api+"/api/v0/id", "", nil)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return k
}

// env is the environment of every ipfs command of k: its repository, and
// telemetry off, since Kubo would otherwise report to the internet after
// 15 minutes, and tests never reach it.
func (k *kubo) env() []string {
	return append(os.Environ(), "IPFS_PATH="+k.repo, "IPFS_TELEMETRY=off")
}

// Run runs an ipfs command against the daemon and returns its output.
func (k *kubo) Run(tb testing.TB, args ...string) string {
	tb.Helper()
	out, err := k.run(args...)
	if err != nil {
		tb.Fatalf("ipfs %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (k *kubo) run(args ...string) (string, error) {
	cmd := exec.Command(k.bin, args...)
	cmd.Env = k.env()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// RPC calls Kubo's RPC API and fails the test unless it answers 200.
func (k *kubo) RPC(tb testing.TB, path string) {
	resp, err := nethttp.Post(k.api+path, "", nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		tb.Fatalf("Kubo %s: %d %s", path, resp.StatusCode, body)
	}
}

// Add adds random bytes of size as a file with CIDv1 and returns its CID.
func (k *kubo) Add(tb testing.TB, size int) string {
	tb.Helper()
	return strings.TrimSpace(k.Run(tb, "add", "-Q", "--cid-version=1", k.randomFile(tb, size)))
}

// TestKubo is what a Kubo user does: `ipfs pin remote` with tack as the
// service, for content their own node holds and provides (Kubo sends its
// addresses as origins), then moves the rest of their pins over with
// `tack migrate` from `ipfs pin ls`.
func TestKubo(t *testing.T) {
	// Not parallel: it runs Kubo daemons, too heavy to share two cores with
	// other tests.
	bin := kuboBin(t)
	m := MustOpenMain(t, tempData(t))
	k := startKubo(t, bin)
	service := "http://" + m.HTTPAddr() + "/"
	k.Run(t, "pin", "remote", "service", "add", "tack", service, m.AdminToken)

	// A 3 MiB file and a directory with an inline file, added by Kubo.
	file := k.Add(t, 3<<20)
	dirPath := filepath.Join(t.TempDir(), "album")
	os.MkdirAll(dirPath, 0o700)
	os.WriteFile(filepath.Join(dirPath, "a.txt"), []byte("tiny"), 0o600)
	big := make([]byte, 300<<10)
	rand.Read(big)
	os.WriteFile(filepath.Join(dirPath, "b.bin"), big, 0o600)
	dir := strings.TrimSpace(k.Run(t, "add", "-r", "-Q", "--cid-version=1", "--inline", dirPath))

	// `ipfs pin remote add` waits until the pin is pinned.
	k.Run(t, "pin", "remote", "add", "--service=tack", "--name=photos", file)
	k.Run(t, "pin", "remote", "add", "--service=tack", "--name=album", dir)
	for _, c := range []string{file, dir} {
		root, err := cid.Decode(c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.DB.FindDAG(context.Background(), tack.ContentKey(root)); err != nil {
			t.Errorf("tack does not hold %s whole: %v", c, err)
		}
	}
	ls := k.Run(t, "pin", "remote", "ls", "--service=tack", "--status=pinned")
	for _, want := range []string{file + "\tpinned\tphotos", dir + "\tpinned\talbum"} {
		if !strings.Contains(ls, want) {
			t.Errorf("ipfs pin remote ls lacks %q:\n%s", want, ls)
		}
	}
	// queued/pinning/pinned/failed
	if stat := k.Run(t, "pin", "remote", "service", "ls", "--stat"); !strings.Contains(stat, "tack "+strings.TrimSuffix(service, "/")+" 0/0/2/0") {
		t.Errorf("ipfs pin remote service ls --stat:\n%s", stat)
	}
	// An IPNS name and a codec tack refuses: Kubo shows the API's reason.
	if out, err := k.run("pin", "remote", "add", "--service=tack", "--background", "bagaaierasords4njcts6vs7qvdjfcvgnume4hqohf65zsfguprqphs3icwea"); err == nil || !strings.Contains(out, "BAD_REQUEST") {
		t.Errorf("pinning a git CID: %v\n%s", err, out)
	}
	k.Run(t, "pin", "remote", "rm", "--service=tack", "--cid="+file)
	if ls := k.Run(t, "pin", "remote", "ls", "--service=tack", "--status=queued,pinning,pinned,failed"); strings.Contains(ls, file) {
		t.Errorf("still listed after ipfs pin remote rm:\n%s", ls)
	}

	// Migrate: Kubo's recursive pins (what `ipfs add` pinned, and more).
	more := []string{k.Add(t, 64<<10), k.Add(t, 1<<20), k.Add(t, 10)}
	list := k.Run(t, "pin", "ls", "--type=recursive", "-q")
	for _, c := range more {
		if !strings.Contains(list, c) {
			t.Fatalf("ipfs pin ls lacks %s:\n%s", c, list)
		}
	}
	addrs := strings.Fields(k.Run(t, "id", "-f", "<addrs>\n"))
	var out bytes.Buffer
	err := run(context.Background(), []string{"migrate", "--from-file", "-", "--to", service, "--token", m.AdminToken,
		"--origin", strings.Join(addrs, ","), "--wait"}, strings.NewReader(list), &out, &out, func(string) string { return "" })
	if err != nil {
		t.Fatalf("tack migrate from ipfs pin ls: %v\n%s", err, out.String())
	}
	for _, c := range more {
		root, _ := cid.Decode(c)
		if _, err := m.DB.FindDAG(context.Background(), tack.ContentKey(root)); err != nil {
			t.Errorf("after the migration tack does not hold %s: %v\n%s", c, err, out.String())
		}
	}
}

// TestKuboTwoProviders: a pin whose origins are two Kubo providers
// fetches from both at once (package fanout), and a block one of them
// lacks comes from the other.
func TestKuboTwoProviders(t *testing.T) {
	bin := kuboBin(t)
	a, b := startKubo(t, bin), startKubo(t, bin)
	m := MustOpenMain(t, tempData(t))
	c := pinclient.NewClient("http://"+m.HTTPAddr(), m.AdminToken)
	var origins []multiaddr.Multiaddr
	for _, k := range []*kubo{a, b} {
		for _, s := range strings.Fields(k.Run(t, "id", "-f", "<addrs>\n")) {
			if ma, err := multiaddr.NewMultiaddr(s); err == nil && strings.Contains(s, "/ip4/127.0.0.1/tcp/") && !strings.Contains(s, "/ws") {
				origins = append(origins, ma)
			}
		}
	}
	// Both hold a 16 MiB file; only b holds a directory of it and
	// another file.
	shared, n := addToAll(t, []*kubo{a, b}, 16<<20, "--cid-version=1")
	dirPath := filepath.Join(t.TempDir(), "dir")
	os.MkdirAll(dirPath, 0o700)
	f := a.randomFile(t, 16<<20)
	os.Rename(f, filepath.Join(dirPath, "shared"))
	b.Run(t, "add", "-Q", "--cid-version=1", filepath.Join(dirPath, "shared"))
	os.WriteFile(filepath.Join(dirPath, "own"), []byte("only b has this"), 0o600)
	onlyB, err := cid.Decode(strings.TrimSpace(b.Run(t, "add", "-r", "-Q", "--cid-version=1", dirPath)))
	if err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	sent := blocksSent(t, []*kubo{a, b})
	for _, root := range []cid.Cid{shared, onlyB} {
		ps, err := c.Add(ctx, root, pinclient.PinOpts.WithOrigins(origins...))
		if err != nil {
			t.Fatal(err)
		}
		waitPinned(t, c, ps.GetRequestId(), 20*time.Millisecond)
		if _, err := m.DB.FindDAG(ctx, tack.ContentKey(root)); err != nil {
			t.Fatalf("tack does not hold %s whole: %v", root, err)
		}
		if root == shared {
			after := blocksSent(t, []*kubo{a, b})
			fromA, fromB := after[0]-sent[0], after[1]-sent[1]
			t.Logf("%d blocks: %d from a, %d from b", n, fromA, fromB)
			if fromA < n/4 || fromB < n/4 {
				t.Errorf("%d blocks came %d from a and %d from b: want each to send a fair share", n, fromA, fromB)
			}
			if fromA+fromB > n+n/10 {
				t.Errorf("%d blocks sent for %d", fromA+fromB, n)
			}
		}
	}
}
