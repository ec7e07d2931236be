package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pinclient "github.com/ipfs/boxo/pinning/remote/client"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multiaddr"
	"github.com/multiformats/go-multihash"
	"github.com/tack-ipfs/tack/internal/testpeer"
)

// MustOpenMain starts tack in-process on port 0 with its data in dir, no
// bootstrap peers, no DHT and private origins allowed (the test peers are
// on 127.0.0.1). It is closed when the test ends.
func MustOpenMain(tb testing.TB, dir string, configure ...func(*Config)) *Main {
	tb.Helper()
	m := NewMain()
	var out bytes.Buffer
	m.Stdout, m.Stderr = &out, io.Discard
	m.Logger = slog.New(slog.NewTextHandler(testWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	err := m.ParseFlags([]string{
		"--data", dir, "--listen", "127.0.0.1:0", "--p2p-listen", "/ip4/127.0.0.1/tcp/0",
		"--bootstrap", "none", "--dht", "off", "--allow-private-origins",
		"--disk-reserve", "8MiB", // not 256 MiB in each of the tests running at once
	}, func(string) string { return "" })
	if err != nil {
		tb.Fatal(err)
	}
	for _, f := range configure {
		f(&m.Config)
	}
	if err := m.Open(context.Background()); err != nil {
		m.Close()
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.Close() })
	return m
}

// testWriter sends log lines to the test's log.
type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// Client returns a Pinning Service API client, the one Kubo uses.
func (m *Main) Client(token string) *pinclient.Client {
	return pinclient.NewClient("http://"+m.HTTPAddr(), token)
}

// MustRun runs a tack command line and returns its standard output.
func MustRun(tb testing.TB, args ...string) string {
	tb.Helper()
	return MustRunStdin(tb, "", args...)
}

// MustRunStdin runs a tack command line with stdin as its standard input
// and returns its standard output.
func MustRunStdin(tb testing.TB, stdin string, args ...string) string {
	tb.Helper()
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), args, strings.NewReader(stdin), &stdout, &stderr, func(string) string { return "" }); err != nil {
		tb.Fatalf("tack %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// MustAccount creates an account through the CLI and returns a new API
// token of it.
func MustAccount(tb testing.TB, dir, email string, approve bool) string {
	tb.Helper()
	args := []string{"account", "create", "--data", dir, "--email", email}
	if approve {
		args = append(args, "--approve")
	}
	MustRun(tb, args...)
	return strings.TrimSpace(MustRun(tb, "token", "create", "--data", dir, "--email", email, "--name", "test"))
}

// Origins returns a peer's addresses as multiaddrs for Add's origins.
func Origins(tb testing.TB, p *testpeer.Peer) []multiaddr.Multiaddr {
	tb.Helper()
	var out []multiaddr.Multiaddr
	for _, s := range p.Addrs() {
		out = append(out, multiaddr.StringCast(s))
	}
	return out
}

// WaitStatus polls a request, as Kubo does, until it reaches one of the
// final statuses, and fails the test unless that is want.
func WaitStatus(tb testing.TB, c *pinclient.Client, id string, want pinclient.Status, timeout time.Duration) pinclient.PinStatusGetter {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last pinclient.PinStatusGetter
	for {
		ps, err := c.GetStatusByID(ctx, id)
		if err != nil {
			tb.Fatalf("polling %s: %v (last status %v)", id, err, last)
		}
		last = ps
		switch s := ps.GetStatus(); {
		case s == want:
			return ps
		case s == pinclient.StatusPinned || s == pinclient.StatusFailed:
			tb.Fatalf("request %s ended %s, want %s; info %v", id, s, want, ps.GetInfo())
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("request %s still %s after %s, want %s; info %v", id, last.GetStatus(), timeout, want, last.GetInfo())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// MustFail pins root and waits until the request fails with details that
// mention want.
func MustFail(tb testing.TB, c *pinclient.Client, root cid.Cid, want string, opts ...pinclient.AddOption) {
	tb.Helper()
	ps, err := c.Add(context.Background(), root, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	got := WaitStatus(tb, c, ps.GetRequestId(), pinclient.StatusFailed, time.Minute)
	if d := got.GetInfo()["status_details"]; !strings.Contains(d, want) {
		tb.Fatalf("status_details = %q, want it to mention %q", d, want)
	}
}

// MustHaveDAG checks that tack's blockstore holds every block of the DAG
// the peer holds under root, except the blocks of identity CIDs, which the
// CIDs carry and tack never stores. It returns the number of blocks.
func (m *Main) MustHaveDAG(tb testing.TB, p *testpeer.Peer, root cid.Cid) int {
	tb.Helper()
	ctx := context.Background()
	all, err := testpeer.AllCIDs(ctx, p.Blockstore(), root)
	if err != nil {
		tb.Fatal(err)
	}
	for _, c := range all {
		has, err := m.Blocks.Has(ctx, c)
		if err != nil {
			tb.Fatal(err)
		}
		switch identity := c.Prefix().MhType == multihash.IDENTITY; {
		case identity && has:
			tb.Fatalf("tack stored identity block %s of %s", c, root)
		case !identity && !has:
			tb.Fatalf("tack lacks block %s of %s", c, root)
		}
	}
	return len(all)
}

func tempData(tb testing.TB) string { return filepath.Join(tb.TempDir(), "data") }

var _ = fmt.Sprintf
