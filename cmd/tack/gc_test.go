package main

import (
	"bytes"
	"context"
	"math/rand/v2"
	nethttp "net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pinclient "github.com/ipfs/boxo/pinning/remote/client"
	"github.com/ipfs/go-cid"
	"golang.org/x/time/rate"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/internal/cartest"
	"github.com/tack-ipfs/tack/internal/testpeer"
)

// storedBlocks counts the blocks in tack's blockstore.
func (m *Main) storedBlocks(tb testing.TB) int {
	tb.Helper()
	ch, err := m.Blocks.AllKeysChan(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for range ch {
		n++
	}
	return n
}

var freedRE = regexp.MustCompile(`freed (\d+) blocks`)

// freed reads the count of freed blocks from tack gc's output.
func freed(tb testing.TB, out string) int {
	tb.Helper()
	m := freedRE.FindStringSubmatch(out)
	if m == nil {
		tb.Fatalf("tack gc said %q, which names no count of freed blocks", out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestGC deletes pins and runs `tack gc` while tack serves, then again
// once it has stopped.
func TestGC(t *testing.T) {
	t.Parallel()
	dir := tempData(t)
	m := MustOpenMain(t, dir)
	peer := testpeer.New(t)
	c := m.Client(m.AdminToken)
	ctx := context.Background()
	shared := peer.AddFile(t, 1<<20, 64<<10, 1)
	a := peer.AddLinks(t, shared, peer.AddFile(t, 256<<10, 16<<10, 1))
	b := peer.AddLinks(t, shared, peer.AddDAGCBOR(t, 30))
	pin := func(root cid.Cid) string {
		ps, err := c.Add(ctx, root, pinclient.PinOpts.WithOrigins(Origins(t, peer)...))
		if err != nil {
			t.Fatal(err)
		}
		WaitStatus(t, c, ps.GetRequestId(), pinclient.StatusPinned, time.Minute)
		return ps.GetRequestId()
	}
	ra, rb := pin(a), pin(b)
	total := m.storedBlocks(t)
	if n := freed(t, MustRun(t, "gc", "--data", dir)); n != 0 {
		t.Errorf("tack gc with every DAG pinned freed %d blocks", n)
	}

	if err := c.DeleteByID(ctx, ra); err != nil {
		t.Fatal(err)
	}
	out := MustRun(t, "gc", "--data", dir)
	t.Logf("tack gc: %s", out)
	blocksOf := func(root cid.Cid) int { cs, _ := testpeer.AllCIDs(ctx, peer.Blockstore(), root); return len(cs) }
	if n, want := freed(t, out), blocksOf(a)-blocksOf(shared); n != want {
		t.Errorf("after deleting A, tack gc freed %d blocks, want %d (A less what it shares with B)", n, want)
	}
	m.MustHaveDAG(t, peer, b)

	// Pinned again, A is fetched again.
	pin(a)
	m.MustHaveDAG(t, peer, a)

	for _, id := range []string{rb} {
		if err := c.DeleteByID(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	// Not serving: tack gc opens the data directory itself.
	MustRun(t, "gc", "--data", dir)
	m = MustOpenMain(t, dir)
	m.MustHaveDAG(t, peer, a)
	if n := m.storedBlocks(t); n != blocksOf(a) || n >= total {
		t.Errorf("%d blocks stored, want A's %d", n, blocksOf(a))
	}
}

// TestGCWhilePinning deletes and pins again the same content through the
// API while collections run back to back: no pinned DAG may lose a block.
func TestGCWhilePinning(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, tempData(t), func(c *Config) {
		c.RateLimit.Rate = rate.Inf
		// Now and then a fetch here gets no block for a while from
		// bitswap (also with no collection running); a short stall lets
		// it step aside and try again, so that the test is about
		// collections, not that wait.
		c.PinStall, c.PinRetry = 3*time.Second, time.Second
	})
	peer := testpeer.New(t)
	c := m.Client(m.AdminToken)
	shared := peer.AddFile(t, 512<<10, 1<<10, 1)
	var roots []cid.Cid
	for range 4 {
		roots = append(roots, peer.AddLinks(t, shared, peer.AddFile(t, 64<<10, 4<<10, 1)))
	}
	// The workers and the collector go on until enough of both has
	// happened, however fast or slow this machine is; the deadline only
	// stops a test that is stuck.
	const wantPins, wantCollections = 60, 3
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	var pins, collections atomic.Int64
	done := func() bool {
		return ctx.Err() != nil || (pins.Load() >= wantPins && collections.Load() >= wantCollections)
	}
	for w := range 3 {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(w), 2))
			for !done() {
				root := roots[rnd.IntN(len(roots))]
				ps, err := c.Add(context.Background(), root, pinclient.PinOpts.WithOrigins(Origins(t, peer)...))
				if err != nil {
					t.Error(err)
					return
				}
				WaitStatus(t, c, ps.GetRequestId(), pinclient.StatusPinned, time.Minute)
				pins.Add(1)
				m.MustHaveDAG(t, peer, root) // pinned, and only this worker deletes it
				if err := c.DeleteByID(context.Background(), ps.GetRequestId()); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for !done() {
			if _, err := m.collect(context.Background()); err != nil {
				t.Error(err)
				return
			}
			collections.Add(1)
		}
	})
	wg.Wait()
	t.Logf("%d pins, %d collections", pins.Load(), collections.Load())
	if pins.Load() < wantPins || collections.Load() < wantCollections {
		t.Fatalf("only %d pins and %d collections ran in %s", pins.Load(), collections.Load(), 3*time.Minute)
	}
	if _, err := m.collect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := m.storedBlocks(t); n != 0 {
		t.Errorf("%d blocks stored after every pin was deleted and collected", n)
	}
}

// TestVerify loses a block behind tack's back; `tack verify` finds it,
// and the DAG is fetched again.
func TestVerify(t *testing.T) {
	t.Parallel()
	dir := tempData(t)
	m := MustOpenMain(t, dir)
	peer := testpeer.New(t)
	c := m.Client(m.AdminToken)
	ctx := context.Background()
	root := peer.AddFile(t, 1<<20, 64<<10, 1)
	ps, err := c.Add(ctx, root, pinclient.PinOpts.WithOrigins(Origins(t, peer)...))
	if err != nil {
		t.Fatal(err)
	}
	WaitStatus(t, c, ps.GetRequestId(), pinclient.StatusPinned, time.Minute)
	if out := MustRun(t, "verify", "--data", dir); !strings.Contains(out, "0 DAGs broken") {
		t.Errorf("tack verify of a whole DAG said %q", out)
	}

	cs, _ := testpeer.AllCIDs(ctx, peer.Blockstore(), root)
	lost := cs[len(cs)/2]
	if err := m.Blocks.DeleteBlock(ctx, lost); err != nil {
		t.Fatal(err)
	}
	out := MustRun(t, "verify", "--data", dir)
	t.Logf("tack verify: %s", out)
	if !strings.Contains(out, "1 DAGs broken, 1 requests queued") {
		t.Errorf("tack verify said %q, want 1 DAG broken and 1 request queued", out)
	}
	got, err := c.GetStatusByID(ctx, ps.GetRequestId())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("after verify: %s %v", got.GetStatus(), got.GetInfo())
	WaitStatus(t, c, ps.GetRequestId(), pinclient.StatusPinned, time.Minute)
	m.MustHaveDAG(t, peer, root)
}

// TestGCAfterDelete: the blocks of a deleted pin stop being served once
// --gc-delay has passed, without a tack gc and long before
// --gc-interval; the pin that shares a block keeps it.
func TestGCAfterDelete(t *testing.T) {
	t.Parallel()
	dir := tempData(t)
	m := MustOpenMain(t, dir, func(c *Config) { c.GCDelay = 200 * time.Millisecond })
	token := MustAccount(t, dir, "a@example.com", true)
	root, all := cartest.DAG(t, 5, 1000)
	other := cartest.Node(t, 7, all[1].Cid())
	var ids []string
	for _, body := range [][]byte{cartest.CAR(t, []cid.Cid{root.Cid()}, all...), cartest.CAR(t, []cid.Cid{other.Cid()}, other, all[1])} {
		status, res, out := postCAR(t, m.HTTPAddr(), token, "", bytes.NewReader(body), 0)
		if status != 200 || res.Results[0].Status != tack.StatusPinned {
			t.Fatalf("upload: %d %s", status, out)
		}
		ids = append(ids, res.Results[0].RequestID)
	}
	served := func(c cid.Cid) bool {
		resp, err := nethttp.Get("http://" + m.HTTPAddr() + "/ipfs/" + c.String() + "?format=raw")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}
	if !served(all[2].Cid()) {
		t.Fatal("a pinned block is not served")
	}
	if err := m.Client(token).DeleteByID(context.Background(), ids[0]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "the deleted pin's blocks to stop being served", func() bool { return !served(all[2].Cid()) })
	for _, b := range all {
		if got, want := served(b.Cid()), b.Cid() == all[1].Cid(); got != want {
			t.Errorf("block %s served: %v, want %v", b.Cid(), got, want)
		}
	}
}

// TestGCAfterFailedUpload: an incomplete upload whose request gives up
// (--pin-timeout) stops counting and its blocks stop being served within
// --gc-delay.
func TestGCAfterFailedUpload(t *testing.T) {
	t.Parallel()
	dir := tempData(t)
	m := MustOpenMain(t, dir, func(c *Config) {
		c.GCDelay = 200 * time.Millisecond
		c.PinStall, c.PinRetry, c.PinTimeout = 300*time.Millisecond, 100*time.Millisecond, time.Second
	})
	token := MustAccount(t, dir, "a@example.com", true)
	root, all := cartest.DAG(t, 5, 1000)
	status, res, out := postCAR(t, m.HTTPAddr(), token, "", bytes.NewReader(cartest.CAR(t, []cid.Cid{root.Cid()}, all[:len(all)-1]...)), 0)
	if status != 200 || res.Results[0].Status == tack.StatusPinned {
		t.Fatalf("upload: %d %s", status, out)
	}
	WaitStatus(t, m.Client(token), res.Results[0].RequestID, pinclient.StatusFailed, time.Minute)
	waitFor(t, time.Minute, "the given-up upload's blocks to go", func() bool {
		ok, err := m.Blocks.Has(context.Background(), all[1].Cid())
		return err == nil && !ok
	})
}
