package main

import (
	"context"
	"strings"
	"testing"
	"time"

	pinclient "github.com/ipfs/boxo/pinning/remote/client"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/internal/cartest"
	"github.com/tack-ipfs/tack/internal/testpeer"
)

// Every accepted codec pins for real: the request goes queued → pinning →
// pinned and every block of the DAG is in tack's blockstore afterwards.
func TestPinEveryCodec(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, tempData(t))
	peer := testpeer.New(t)
	c := m.Client(m.AdminToken)
	ctx := context.Background()

	for _, tt := range []struct {
		name string
		root cid.Cid
	}{
		{"unixfs-cidv0", peer.AddFile(t, 1<<20+123, 64<<10, 0)},
		{"unixfs-cidv1", peer.AddFile(t, 3<<20, 256<<10, 1)},
		{"dag-cbor", peer.AddDAGCBOR(t, 200)},
		{"dag-json", peer.AddDAGJSON(t, 200)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ps, err := c.Add(ctx, tt.root, pinclient.PinOpts.WithName(tt.name), pinclient.PinOpts.WithOrigins(Origins(t, peer)...))
			if err != nil {
				t.Fatal(err)
			}
			if s := ps.GetStatus(); s != pinclient.StatusQueued && s != pinclient.StatusPinning && s != pinclient.StatusPinned {
				t.Fatalf("status after add = %s", s)
			}
			if len(ps.GetDelegates()) == 0 {
				t.Fatal("no delegates")
			}
			done := WaitStatus(t, c, ps.GetRequestId(), pinclient.StatusPinned, time.Minute)
			n := m.MustHaveDAG(t, peer, tt.root)
			if got := done.GetInfo()["blocks"]; got == "" {
				t.Errorf("info of a pinned request lacks blocks: %v", done.GetInfo())
			}
			if done.GetInfo()["dag_size"] == "" {
				t.Errorf("info of a pinned request lacks dag_size: %v", done.GetInfo())
			}
			t.Logf("%s: %d blocks, info %v", tt.root, n, done.GetInfo())
		})
	}
}

// A second IPFS peer that knows only tack's delegates fetches a pinned DAG
// back from tack over bitswap.
func TestServeBack(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, tempData(t))
	origin := testpeer.New(t)
	root := origin.AddFile(t, 2<<20, 256<<10, 1)
	cborRoot := origin.AddDAGCBOR(t, 50)
	c := m.Client(m.AdminToken)
	ctx := context.Background()

	var delegates []string
	for _, r := range []cid.Cid{root, cborRoot} {
		ps, err := c.Add(ctx, r, pinclient.PinOpts.WithOrigins(Origins(t, origin)...))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ps.GetDelegates() {
			delegates = append(delegates, d.String())
		}
		WaitStatus(t, c, ps.GetRequestId(), pinclient.StatusPinned, time.Minute)
	}
	for _, d := range delegates {
		if !strings.Contains(d, "/p2p/"+m.Node.ID().String()) {
			t.Fatalf("delegate %s does not end in /p2p/<tack's peer id>", d)
		}
	}
	origin.Close()

	other := testpeer.New(t)
	for _, r := range []cid.Cid{root, cborRoot} {
		fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		n, err := other.FetchDAG(fctx, r, delegates[:1])
		cancel()
		if err != nil {
			t.Fatalf("fetching %s back from tack: %v", r, err)
		}
		if n == 0 {
			t.Fatal("fetched no blocks")
		}
	}
}

// DAGs that break tack's rules end failed with the reason in status_details.
func TestPinFailures(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, tempData(t), func(c *Config) {
		c.PinStall, c.PinRetry, c.PinTimeout = time.Second, 200*time.Millisecond, 3*time.Second
	})
	peer := testpeer.New(t)
	c := m.Client(m.AdminToken)

	unfindable := testpeer.RandomRawCID(t)
	for _, tt := range []struct {
		name, want string
		root       cid.Cid
	}{
		{"unsupported codec inside", "codec", peer.AddWithUnsupportedCodec(t)},
		{"oversized block", "at most 2097152 bytes", peer.AddWithOversizedBlock(t)},
		{"no progress", "no progress", unfindable},
	} {
		t.Run(tt.name, func(t *testing.T) {
			MustFail(t, c, tt.root, tt.want, pinclient.PinOpts.WithOrigins(Origins(t, peer)...))
		})
	}
}

// A fetch that still runs after --pin-max-time fails, even while blocks
// keep arriving now and then: here the origin has the root but not the
// rest, and the stall timeout is far away.
func TestPinMaxTime(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, tempData(t), func(c *Config) { c.PinStall = time.Hour; c.PinMaxTime = 2 * time.Second })
	peer := testpeer.New(t)
	root := peer.AddFile(t, 1<<20, 64<<10, 1)
	all, err := testpeer.AllCIDs(context.Background(), peer.Blockstore(), root)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range all[1:] {
		if err := peer.Blockstore().DeleteBlock(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	c := m.Client(m.AdminToken)
	ps, err := c.Add(context.Background(), root, pinclient.PinOpts.WithOrigins(Origins(t, peer)...))
	if err != nil {
		t.Fatal(err)
	}
	got := WaitStatus(t, c, ps.GetRequestId(), pinclient.StatusFailed, time.Minute)
	if d, want := got.GetInfo()["status_details"], "gave up after 2s"; !strings.Contains(d, want) {
		t.Fatalf("status_details = %q, want it to mention %q", d, want)
	}
}

// A CID tack already holds whole is pinned at once, and several requests
// for one CID share its blocks.
func TestPinHeldContentAtOnce(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, tempData(t))
	peer := testpeer.New(t)
	root := peer.AddFile(t, 1<<20, 128<<10, 1)
	c := m.Client(m.AdminToken)
	ctx := context.Background()

	first, err := c.Add(ctx, root, pinclient.PinOpts.WithOrigins(Origins(t, peer)...))
	if err != nil {
		t.Fatal(err)
	}
	WaitStatus(t, c, first.GetRequestId(), pinclient.StatusPinned, time.Minute)
	peer.Close() // nobody else has the DAG now

	// The same content under its CIDv0 twin counts as held.
	second, err := c.Add(ctx, cid.NewCidV0(root.Hash()))
	if err != nil {
		t.Fatal(err)
	}
	if second.GetStatus() != pinclient.StatusPinned {
		t.Fatalf("second request for held content: status %s, want pinned at once", second.GetStatus())
	}
	if second.GetRequestId() == first.GetRequestId() {
		t.Fatal("two requests share a requestid")
	}
}

// Deleting a request cancels its fetch; replacing one gives a new requestid
// and the old one is gone.
func TestDeleteAndReplaceWhilePinning(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, tempData(t))
	c := m.Client(m.AdminToken)
	ctx := context.Background()

	ps, err := c.Add(ctx, testpeer.RandomRawCID(t))
	if err != nil {
		t.Fatal(err)
	}
	WaitStatus(t, c, ps.GetRequestId(), pinclient.StatusPinning, 10*time.Second)
	if m.Pinner.Active() != 1 {
		t.Fatalf("active fetches = %d, want 1", m.Pinner.Active())
	}
	if err := c.DeleteByID(ctx, ps.GetRequestId()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the fetch to stop after delete", func() bool { return m.Pinner.Active() == 0 })
	if _, err := c.GetStatusByID(ctx, ps.GetRequestId()); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("get after delete: %v, want a 404", err)
	}

	old, err := c.Add(ctx, testpeer.RandomRawCID(t), pinclient.PinOpts.WithName("v1"))
	if err != nil {
		t.Fatal(err)
	}
	WaitStatus(t, c, old.GetRequestId(), pinclient.StatusPinning, 10*time.Second)
	peer := testpeer.New(t)
	newRoot := peer.AddDAGCBOR(t, 20)
	repl, err := c.Replace(ctx, old.GetRequestId(), newRoot, pinclient.PinOpts.WithName("v2"), pinclient.PinOpts.WithOrigins(Origins(t, peer)...))
	if err != nil {
		t.Fatal(err)
	}
	if repl.GetRequestId() == old.GetRequestId() {
		t.Fatal("replace kept the requestid")
	}
	if !repl.GetPin().GetCid().Equals(newRoot) {
		t.Fatalf("replace echoed cid %s, want %s", repl.GetPin().GetCid(), newRoot)
	}
	if _, err := c.GetStatusByID(ctx, old.GetRequestId()); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("get of the replaced request: %v, want a 404", err)
	}
	WaitStatus(t, c, repl.GetRequestId(), pinclient.StatusPinned, time.Minute)
	waitFor(t, 5*time.Second, "the replaced fetch to stop", func() bool { return m.Pinner.Active() == 0 })
}

func waitFor(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A DAG deeper than tack.MaxDAGDepth fails when pinned, with the limit in
// its details; one exactly that deep is pinned. tack holds all but the
// root already (a chain fetched over bitswap takes a round trip a block),
// which the fetch reads for its links.
func TestPinTooDeep(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, tempData(t))
	peer := testpeer.New(t)
	c := m.Client(m.AdminToken)
	origins := pinclient.PinOpts.WithOrigins(Origins(t, peer)...)
	for _, tc := range []struct {
		name string
		bs   []blocks.Block
		ok   bool
	}{
		{"chain at the limit", cartest.Chain(t, tack.MaxDAGDepth), true},
		{"diamond too deep", cartest.Diamond(t, tack.MaxDAGDepth+1), false},
		{"chain too deep", cartest.Chain(t, tack.MaxDAGDepth+1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			peer.AddBlocks(t, tc.bs...)
			if err := m.Blocks.PutMany(context.Background(), tc.bs[1:]); err != nil {
				t.Fatal(err)
			}
			if !tc.ok {
				MustFail(t, c, tc.bs[0].Cid(), "deeper than 1024 links", origins)
				return
			}
			ps, err := c.Add(context.Background(), tc.bs[0].Cid(), origins)
			if err != nil {
				t.Fatal(err)
			}
			WaitStatus(t, c, ps.GetRequestId(), pinclient.StatusPinned, time.Minute)
		})
	}
}
