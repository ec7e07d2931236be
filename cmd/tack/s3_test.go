package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	nethttp "net/http"
	"os"
	"strings"
	"testing"
	"time"

	pinclient "github.com/ipfs/boxo/pinning/remote/client"
	"github.com/ipfs/go-cid"

	"github.com/tack-ipfs/tack/blockstore/s3"
	"github.com/tack-ipfs/tack/internal/miniotest"
	"github.com/tack-ipfs/tack/internal/testpeer"
)

// mustOpenMainS3 is MustOpenMain with the blocks in the bucket url names
// on srv, and more flags if given.
func mustOpenMainS3(tb testing.TB, dir string, srv *miniotest.Server, url string, flags ...string) *Main {
	tb.Helper()
	m := NewMain()
	m.Stdout, m.Stderr = io.Discard, io.Discard
	m.Logger = slog.New(slog.NewTextHandler(testWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	err := m.ParseFlags(append([]string{
		"--data", dir, "--listen", "127.0.0.1:0", "--p2p-listen", "/ip4/127.0.0.1/tcp/0",
		"--bootstrap", "none", "--dht", "off", "--allow-private-origins",
		"--blocks", url, "--blocks-cache", "256KiB",
	}, flags...), srv.Env(func(string) string { return "" }))
	if err != nil {
		tb.Fatal(err)
	}
	if err := m.Open(context.Background()); err != nil {
		m.Close()
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.Close() })
	return m
}

// TestServeS3 pins DAGs into S3 blocks from an in-process peer, serves
// them back through the gateway (also after a restart with an empty
// cache), and frees them by garbage collection once deleted.
func TestServeS3(t *testing.T) {
	// Not parallel: MinIO's start-up already times out on a loaded
	// machine.
	srv := miniotest.Start(t)
	dir := tempData(t)
	url := srv.URL("tack/node1")
	m := mustOpenMainS3(t, dir, srv, url)
	if _, ok := m.Blocks.(*s3.Store); !ok {
		t.Fatalf("--blocks %s opened a %T", url, m.Blocks)
	}
	peer := testpeer.New(t)
	token := m.AdminToken
	c := m.Client(token)
	ctx := context.Background()
	file := peer.AddFile(t, 2<<20, 64<<10, 1) // 2 MiB: more than the cache holds
	small := peer.AddFile(t, 64<<10, 1<<10, 1)
	cbor := peer.AddDAGCBOR(t, 40)
	ids := map[cid.Cid]string{}
	for _, root := range []cid.Cid{file, small, cbor} {
		ps, err := c.Add(ctx, root, pinclient.PinOpts.WithOrigins(Origins(t, peer)...))
		if err != nil {
			t.Fatal(err)
		}
		WaitStatus(t, c, ps.GetRequestId(), pinclient.StatusPinned, time.Minute)
		ids[root] = ps.GetRequestId()
		m.MustHaveDAG(t, peer, root)
	}
	total := m.storedBlocks(t)

	gatewayCAR := func(m *Main, root cid.Cid) {
		t.Helper()
		resp, err := nethttp.Get("http://" + m.HTTPAddr() + "/ipfs/" + root.String() + "?format=car")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != nethttp.StatusOK {
			t.Fatalf("GET /ipfs/%s?format=car: %s %s", root, resp.Status, body)
		}
		_, got := carCIDs(t, body)
		want, err := testpeer.AllCIDs(ctx, peer.Blockstore(), root)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Errorf("gateway CAR of %s: %d blocks, want %d", root, len(got), len(want))
		}
	}
	for _, root := range []cid.Cid{file, small, cbor} {
		gatewayCAR(m, root)
	}

	// Restarted with an empty cache, tack reads the blocks from S3.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	peer.Close()
	if err := os.RemoveAll(dir + "/blocks-cache"); err != nil {
		t.Fatal(err)
	}
	m = mustOpenMainS3(t, dir, srv, url)
	c = m.Client(token)
	gatewayCAR(m, file)

	// Deleted and collected, the file's blocks are freed; the others stay.
	if err := c.DeleteByID(ctx, ids[file]); err != nil {
		t.Fatal(err)
	}
	rep, err := m.collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Freed == 0 || m.storedBlocks(t) != total-rep.Freed {
		t.Errorf("collection freed %d blocks of %d, %d left", rep.Freed, total, m.storedBlocks(t))
	}
	gatewayCAR(m, small)
	gatewayCAR(m, cbor)
	resp, err := nethttp.Get("http://" + m.HTTPAddr() + "/ipfs/" + file.String() + "?format=raw")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == nethttp.StatusOK {
		t.Error("the gateway still serves a collected root")
	}
	du, err := m.Blocks.DiskUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if du >= 2<<20 {
		t.Errorf("%d bytes in the bucket after the 2 MiB file was collected", du)
	}

	// Not serving: tack gc opens the bucket itself.
	for _, id := range []string{ids[small], ids[cbor]} {
		if err := c.DeleteByID(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := run(ctx, []string{"gc", "--data", dir, "--blocks", url}, strings.NewReader(""), &stdout, &stderr, srv.Env(func(string) string { return "" })); err != nil {
		t.Fatalf("tack gc: %v\n%s", err, stderr.String())
	}
	t.Logf("tack gc: %s", stdout.String())
	m = mustOpenMainS3(t, dir, srv, url)
	if n := m.storedBlocks(t); n != 0 {
		t.Errorf("%d blocks left after every pin was deleted and collected", n)
	}
	if du, _ := m.Blocks.DiskUsage(ctx); du != 0 {
		t.Errorf("%d bytes left in the bucket", du)
	}
}

// S3 blocks without credentials, or with no server, stop tack serve at
// start with an error that says so.
func TestServeS3Errors(t *testing.T) {
	// Not parallel: MinIO (see TestServeS3).
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no credentials", nil, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"},
		{"no server", map[string]string{"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}, "bucket tack at 127.0.0.1:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMain()
			m.Stdout, m.Stderr = io.Discard, io.Discard
			err := m.ParseFlags([]string{
				"--data", tempData(t), "--listen", "127.0.0.1:0", "--p2p-listen", "/ip4/127.0.0.1/tcp/0",
				"--bootstrap", "none", "--dht", "off", "--blocks", "s3://tack?endpoint=http://127.0.0.1:1",
			}, func(k string) string { return tc.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err = m.Open(ctx)
			m.Close()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open: %v, want an error with %q", err, tc.want)
			}
		})
	}
}
