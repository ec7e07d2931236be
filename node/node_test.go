package node_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"github.com/multiformats/go-multicodec"

	"github.com/tack-ipfs/tack/blockstore/blockstoretest"
	"github.com/tack-ipfs/tack/dag"
	"github.com/tack-ipfs/tack/internal/testpeer"
	"github.com/tack-ipfs/tack/node"
)

// loopback listens on random loopback ports, TCP and QUIC.
var loopback = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}

// MustNew starts a node with cfg, filling in a loopback listener, DHT off
// and an in-memory blockstore where cfg leaves them empty. It is closed by
// tb.Cleanup.
func MustNew(tb testing.TB, cfg node.Config) *node.Node {
	tb.Helper()
	if cfg.Listen == nil {
		cfg.Listen = loopback
	}
	if cfg.DHT == "" {
		cfg.DHT = node.DHTOff
	}
	if cfg.Blockstore == nil {
		cfg.Blockstore = blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()), blockstore.NoPrefix())
	}
	n, err := node.New(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := n.Close(); err != nil {
			tb.Error(err)
		}
	})
	return n
}

// fetchAll walks the DAG under root with a session of n, storing every
// block in bs, and returns the number of blocks.
func fetchAll(tb testing.TB, ctx context.Context, n *node.Node, bs blockstore.Blockstore, root cid.Cid) int {
	tb.Helper()
	sess := n.NewSession(ctx)
	seen := map[cid.Cid]bool{root: true}
	level := []cid.Cid{root}
	count := 0
	for len(level) > 0 {
		ch, err := sess.GetBlocks(ctx, level)
		if err != nil {
			tb.Fatal(err)
		}
		var next []cid.Cid
		got := 0
		for b := range ch {
			got++
			next = append(next, storeBlock(tb, ctx, bs, b, seen)...)
		}
		if got != len(level) {
			tb.Fatalf("got %d of %d blocks: %v", got, len(level), ctx.Err())
		}
		count += got
		level = next
	}
	return count
}

// storeBlock checks b and stores it in bs, and returns its links that are
// not in seen yet, adding them.
func storeBlock(tb testing.TB, ctx context.Context, bs blockstore.Blockstore, b blocks.Block, seen map[cid.Cid]bool) []cid.Cid {
	tb.Helper()
	if err := dag.Check(b); err != nil {
		tb.Fatal(err)
	}
	if err := bs.Put(ctx, b); err != nil {
		tb.Fatal(err)
	}
	ls, err := dag.Links(b)
	if err != nil {
		tb.Fatal(err)
	}
	var unseen []cid.Cid
	for _, l := range ls {
		if !seen[l] {
			seen[l] = true
			unseen = append(unseen, l)
		}
	}
	return unseen
}

func TestExchange(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bs := blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()), blockstore.NoPrefix())
	n := MustNew(t, node.Config{Blockstore: bs, AllowPrivateOrigins: true})
	p := testpeer.New(t)

	// The node fetches a DAG from the peer it was told about.
	root := p.AddFile(t, 2<<20, 64<<10, 1)
	want, err := testpeer.AllCIDs(ctx, p.Blockstore(), root)
	if err != nil {
		t.Fatal(err)
	}
	n.Connect(ctx, p.Addrs())
	if got := fetchAll(t, ctx, n, bs, root); got != len(want) {
		t.Errorf("node fetched %d blocks, want %d", got, len(want))
	}

	// Another peer fetches it back from the node, dialling its delegates.
	q := testpeer.New(t)
	got, err := q.FetchDAG(ctx, root, n.Delegates())
	if err != nil {
		t.Fatal(err)
	}
	if got != len(want) {
		t.Errorf("peer fetched %d blocks from the node, want %d", got, len(want))
	}
}

func TestTwoNodes(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	abs := blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()), blockstore.NoPrefix())
	a := MustNew(t, node.Config{Blockstore: abs})
	b := MustNew(t, node.Config{AllowPrivateOrigins: true})
	blk := blockstoretest.MustBlock(t, multicodec.DagCbor, []byte{0xa1, 0x61, 'a', 0x01})
	if err := abs.Put(ctx, blk); err != nil {
		t.Fatal(err)
	}
	// b dials a as a pin's origin; a serves every block it stores.
	b.Connect(ctx, a.Delegates())
	got, err := b.NewSession(ctx).GetBlock(ctx, blk.Cid())
	if err != nil {
		t.Fatal(err)
	}
	if !got.Cid().Equals(blk.Cid()) || string(got.RawData()) != string(blk.RawData()) {
		t.Fatalf("got block %s, want %s", got.Cid(), blk.Cid())
	}
}

func TestIdentityPersists(t *testing.T) {
	t.Parallel()
	keyFile := filepath.Join(t.TempDir(), "secrets", "identity.key")
	start := func() peer.ID {
		n, err := node.New(context.Background(), node.Config{
			KeyFile: keyFile, Listen: loopback, DHT: node.DHTOff,
			Blockstore: blockstore.NewBlockstore(ds.NewMapDatastore()),
		})
		if err != nil {
			t.Fatal(err)
		}
		defer n.Close()
		return n.ID()
	}
	first := start()
	fi, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("key file mode: got %v, want 0600", got)
	}
	data, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	sk, err := crypto.UnmarshalPrivateKey(data)
	if err != nil {
		t.Fatal(err)
	}
	if sk.Type() != crypto.Ed25519 {
		t.Errorf("key type: got %v, want Ed25519", sk.Type())
	}
	if second := start(); second != first {
		t.Errorf("peer ID changed across restarts: %s then %s", first, second)
	}

	bad := filepath.Join(t.TempDir(), "bad.key")
	if err := os.WriteFile(bad, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := node.New(context.Background(), node.Config{KeyFile: bad, Listen: loopback, DHT: node.DHTOff,
		Blockstore: blockstore.NewBlockstore(ds.NewMapDatastore())}); err == nil {
		t.Error("New with a corrupt key file succeeded")
	}
}

func TestDelegates(t *testing.T) {
	t.Parallel()
	check := func(t *testing.T, n *node.Node, ds []string) {
		t.Helper()
		if len(ds) < 1 || len(ds) > 20 {
			t.Fatalf("got %d delegates, want 1..20: %v", len(ds), ds)
		}
		for _, d := range ds {
			ai, err := peer.AddrInfoFromString(d)
			if err != nil {
				t.Fatalf("delegate %q: %v", d, err)
			}
			if ai.ID != n.ID() {
				t.Errorf("delegate %q: peer %s, want %s", d, ai.ID, n.ID())
			}
		}
	}

	t.Run("listen addrs", func(t *testing.T) {
		n := MustNew(t, node.Config{})
		ds := n.Delegates()
		check(t, n, ds)
		if len(ds) != 2 {
			t.Errorf("got %v, want the TCP and the QUIC address", ds)
		}
		for _, d := range ds {
			if !strings.HasPrefix(d, "/ip4/127.0.0.1/") || strings.Contains(d, "/tcp/0/") {
				t.Errorf("delegate %q: want a bound loopback address", d)
			}
		}
	})

	t.Run("unspecified expanded", func(t *testing.T) {
		n := MustNew(t, node.Config{Listen: []string{"/ip4/0.0.0.0/tcp/0"}})
		ds := n.Delegates()
		check(t, n, ds)
		for _, d := range ds {
			if strings.HasPrefix(d, "/ip4/0.0.0.0/") {
				t.Errorf("delegate %q is unspecified", d)
			}
		}
	})

	t.Run("announce public first", func(t *testing.T) {
		n := MustNew(t, node.Config{Announce: []string{
			"/ip4/10.0.0.5/tcp/4001",
			"/ip4/127.0.0.1/tcp/4001",
			"/ip4/203.0.114.7/tcp/4001",
			"/dns4/tack.example.com/udp/4001/quic-v1",
		}})
		ds := n.Delegates()
		check(t, n, ds)
		want := []string{
			"/ip4/203.0.114.7/tcp/4001/p2p/" + n.ID().String(),
			"/dns4/tack.example.com/udp/4001/quic-v1/p2p/" + n.ID().String(),
		}
		if strings.Join(ds, " ") != strings.Join(want, " ") {
			t.Errorf("got %v, want %v", ds, want)
		}
	})

	t.Run("announce private only", func(t *testing.T) {
		n := MustNew(t, node.Config{Announce: []string{"/ip4/127.0.0.1/tcp/4001", "/ip4/192.168.1.2/tcp/4001"}})
		ds := n.Delegates()
		check(t, n, ds)
		if len(ds) != 2 || !strings.HasPrefix(ds[0], "/ip4/192.168.1.2/") {
			t.Errorf("got %v, want the private address then loopback", ds)
		}
	})

	t.Run("capped at 20", func(t *testing.T) {
		var many []string
		for i := range 30 {
			many = append(many, fmt.Sprintf("/ip4/198.51.101.%d/tcp/4001", i+1))
		}
		n := MustNew(t, node.Config{Announce: many})
		ds := n.Delegates()
		check(t, n, ds)
		if len(ds) != 20 {
			t.Errorf("got %d delegates, want 20", len(ds))
		}
	})

	t.Run("no addresses", func(t *testing.T) {
		n := MustNew(t, node.Config{Listen: []string{}})
		ds := n.Delegates()
		check(t, n, ds)
		if ds[0] != "/p2p/"+n.ID().String() {
			t.Errorf("got %v, want /p2p/<id>", ds)
		}
	})

	t.Run("announce of another peer", func(t *testing.T) {
		other := testpeer.New(t).Host().ID()
		_, err := node.New(context.Background(), node.Config{
			Listen: loopback, DHT: node.DHTOff, Blockstore: blockstore.NewBlockstore(ds.NewMapDatastore()),
			Announce: []string{"/ip4/203.0.114.7/tcp/4001/p2p/" + other.String()},
		})
		if err == nil {
			t.Error("New accepted an announce address of another peer")
		}
	})
}

func TestConnect(t *testing.T) {
	// Not parallel: it bounds how long dials take, which other tests
	// sharing the CPU would stretch.
	ctx := context.Background()
	p := testpeer.New(t)
	junk := []string{"", "not a multiaddr", "/ip4/127.0.0.1/tcp/1", "/p2p/" + p.Host().ID().String()}

	t.Run("private refused", func(t *testing.T) {
		n := MustNew(t, node.Config{})
		start := time.Now()
		n.Connect(ctx, append(junk, p.Addrs()...))
		if got := n.Host().Network().Connectedness(p.Host().ID()); got == network.Connected {
			t.Error("connected to a loopback origin without AllowPrivateOrigins")
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Connect took %v with nothing to dial", d)
		}
		// The gater refuses private dials from anywhere, not only Connect.
		if err := n.Host().Connect(ctx, peer.AddrInfo{ID: p.Host().ID(), Addrs: p.Host().Addrs()}); err == nil {
			t.Error("host dialled a loopback address without AllowPrivateOrigins")
		}
	})

	t.Run("private allowed", func(t *testing.T) {
		n := MustNew(t, node.Config{AllowPrivateOrigins: true})
		origins := append(junk, p.Addrs()...)
		n.Connect(ctx, origins)
		if got := n.Host().Network().Connectedness(p.Host().ID()); got != network.Connected {
			t.Fatalf("connectedness: got %v, want connected", got)
		}
		if !n.Host().ConnManager().IsProtected(p.Host().ID(), "") {
			t.Error("origin connection not protected")
		}
		// Two pins need the peer; it stays protected until both let go.
		n.Connect(ctx, p.Addrs())
		n.Unprotect(origins)
		if !n.Host().ConnManager().IsProtected(p.Host().ID(), "") {
			t.Error("origin unprotected while a second pin needs it")
		}
		n.Unprotect(p.Addrs())
		if n.Host().ConnManager().IsProtected(p.Host().ID(), "") {
			t.Error("origin still protected after Unprotect")
		}
	})

	t.Run("unreachable origins", func(t *testing.T) {
		n := MustNew(t, node.Config{AllowPrivateOrigins: true})
		var origins []string
		for range 15 {
			origins = append(origins, "/ip4/127.0.0.1/tcp/1/p2p/"+testpeer.New(t).Host().ID().String())
		}
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		start := time.Now()
		n.Connect(ctx, origins)
		if d := time.Since(start); d > 4*time.Second {
			t.Errorf("Connect took %v", d)
		}
		protected := 0
		for _, o := range origins {
			ai, _ := peer.AddrInfoFromString(o)
			if n.Host().ConnManager().IsProtected(ai.ID, "") {
				protected++
			}
		}
		if protected != 10 {
			t.Errorf("%d origin peers protected, want the cap of 10", protected)
		}
	})
}

func TestNewPromptly(t *testing.T) {
	// Not parallel: it bounds how long New takes (see TestConnect).
	id := testpeer.New(t).Host().ID().String()
	start := time.Now()
	n := MustNew(t, node.Config{
		DHT: node.DHTAuto,
		Bootstrap: []string{
			"/ip4/192.0.2.1/tcp/4001/p2p/" + id, // TEST-NET: packets vanish
			"/dns4/bootstrap.invalid/tcp/4001/p2p/" + id,
			"/ip4/127.0.0.1/tcp/1/p2p/" + id,
		},
	})
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("New took %v with unreachable bootstrap peers", d)
	}
	start = time.Now()
	if err := n.Close(); err != nil {
		t.Error(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
}

func TestDHTModes(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{node.DHTAuto, node.DHTClient, node.DHTServer, node.DHTOff} {
		n := MustNew(t, node.Config{DHT: mode})
		if mode == node.DHTOff {
			if err := n.Provide(context.Background(), blockstoretest.MustBlock(t, multicodec.Raw, nil).Cid()); err != nil {
				t.Errorf("Provide with the DHT off: %v", err)
			}
		}
	}
	for _, mode := range []string{"Auto", "dht", "on", "none"} {
		_, err := node.New(context.Background(), node.Config{DHT: mode, Listen: loopback,
			Blockstore: blockstore.NewBlockstore(ds.NewMapDatastore())})
		if err == nil || !strings.Contains(err.Error(), "auto, client, server or off") {
			t.Errorf("DHT %q: got %v, want an error listing the modes", mode, err)
		}
	}
}

func TestDefaultBootstrap(t *testing.T) {
	t.Parallel()
	bs := node.DefaultBootstrap()
	if len(bs) < 4 {
		t.Fatalf("got %d bootstrap peers", len(bs))
	}
	for _, b := range bs {
		a, err := multiaddr.NewMultiaddr(b)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := peer.AddrInfoFromP2pAddr(a); err != nil {
			t.Errorf("%s: %v", b, err)
		}
		if !manet.IsPublicAddr(a) {
			t.Errorf("%s is not public", b)
		}
	}
}

// An identity CID is never announced: it carries its block, and no peer
// looks for providers of one.
func TestProvideIdentity(t *testing.T) {
	t.Parallel()
	n := MustNew(t, node.Config{DHT: node.DHTClient})
	identity, err := cid.Decode("bafkqaatine")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Provide(ctx, identity); err != nil {
		t.Fatalf("Provide(%s) = %v, want nil without announcing", identity, err)
	}
}
