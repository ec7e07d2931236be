package node_test

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p-kad-dht/records"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multicodec"

	"github.com/tack-ipfs/tack/blockstore/blockstoretest"
	"github.com/tack-ipfs/tack/internal/testpeer"
	"github.com/tack-ipfs/tack/node"
)

// dhtPeer is one DHT server of a test swarm.
type dhtPeer struct {
	h host.Host
	d *dht.IpfsDHT
}

// has reports whether p's own provider store holds a live record that
// prov provides c: what p answers a GET_PROVIDERS with.
func (p *dhtPeer) has(tb testing.TB, c cid.Cid, prov peer.ID) bool {
	tb.Helper()
	ais, err := p.d.ProviderStore().GetProviders(context.Background(), c.Hash())
	if err != nil {
		tb.Fatal(err)
	}
	return slices.ContainsFunc(ais, func(ai peer.AddrInfo) bool { return ai.ID == prov })
}

// newSwarm starts n DHT servers on loopback, connected to each other,
// whose provider records last validity.
func newSwarm(tb testing.TB, n int, validity time.Duration) []*dhtPeer {
	tb.Helper()
	var swarm []*dhtPeer
	for range n {
		h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
		if err != nil {
			tb.Fatal(err)
		}
		d, err := dht.New(h, dht.Mode(dht.ModeServer),
			dht.ProviderManagerOpts(records.ProvideValidity(validity)))
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() {
			d.Close()
			h.Close()
		})
		p := &dhtPeer{h: h, d: d}
		for _, q := range swarm {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := h.Connect(ctx, peer.AddrInfo{ID: q.h.ID(), Addrs: q.h.Addrs()})
			cancel()
			if err != nil {
				tb.Fatal(err)
			}
		}
		swarm = append(swarm, p)
	}
	for _, p := range swarm {
		waitFor(tb, 10*time.Second, "the routing tables to fill", func() bool { return p.d.RoutingTable().Size() >= n-1 })
	}
	return swarm
}

// addrs returns the swarm's peers as bootstrap addresses.
func addrs(swarm []*dhtPeer) []string {
	var out []string
	for _, p := range swarm {
		for _, a := range p.h.Addrs() {
			out = append(out, a.String()+"/p2p/"+p.h.ID().String())
		}
	}
	return out
}

// waitFor polls cond until it holds, or fails the test after timeout.
func waitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// findsProvider reports whether a DHT query from p finds prov among the
// providers of c.
func (p *dhtPeer) findsProvider(c cid.Cid, prov peer.ID) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for ai := range p.d.FindProvidersAsync(ctx, c, 0) {
		if ai.ID == prov {
			return true
		}
	}
	return false
}

// smallDAG stores a dag-cbor root linking to one raw block in bs and
// returns both.
func smallDAG(tb testing.TB, bs blockstore.Blockstore) (root, leaf cid.Cid) {
	tb.Helper()
	lb := blockstoretest.MustBlock(tb, multicodec.Raw, []byte("a leaf "+time.Now().String()))
	nd, err := qp.BuildMap(basicnode.Prototype.Any, 1, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "leaf", qp.Link(cidlink.Link{Cid: lb.Cid()}))
	})
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	if err := dagcbor.Encode(nd, &buf); err != nil {
		tb.Fatal(err)
	}
	rb := blockstoretest.MustBlock(tb, multicodec.DagCbor, buf.Bytes())
	for _, b := range []blocks.Block{lb, rb} {
		if err := bs.Put(context.Background(), b); err != nil {
			tb.Fatal(err)
		}
	}
	return rb.Cid(), lb.Cid()
}

// A pinned root is found on the DHT, and is still found after its
// records have expired on every DHT server, because the provider
// announces it again every interval; a key announced once (by another
// peer, as tack did before) is gone by then.
func TestProvideReprovide(t *testing.T) {
	// Not parallel: it times announcements against their validity.
	const validity = 6 * time.Second
	swarm := newSwarm(t, 6, validity)
	bs := blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()), blockstore.NoPrefix())
	root, _ := smallDAG(t, bs)
	n := MustNew(t, node.Config{
		DHT:                 node.DHTServer,
		Bootstrap:           addrs(swarm),
		AllowPrivateOrigins: true,
		Blockstore:          bs,
		Provide:             node.ProvideRoots,
		Roots:               func(context.Context) (<-chan cid.Cid, error) { return keys(root), nil },
		ReprovideInterval:   validity / 2,
		DHTOptions:          []dht.Option{dht.ProviderManagerOpts(records.ProvideValidity(validity))},
	})
	if err := n.Provide(context.Background(), root); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "every DHT server to hold the root's record", func() bool {
		for _, p := range swarm {
			if !p.has(t, root, n.ID()) {
				return false
			}
		}
		return true
	})
	if !swarm[0].findsProvider(root, n.ID()) {
		t.Fatal("FindProviders does not find tack as a provider of the pinned root")
	}

	// A control key, announced once by another peer.
	control := testpeer.RandomRawCID(t)
	announcer := swarm[1]
	// Taken before the announcement: a server stores the record, and
	// counts its lifetime, at some time after this.
	announced := time.Now()
	if err := announcer.d.Provide(context.Background(), control, true); err != nil {
		t.Fatal(err)
	}
	if !swarm[0].findsProvider(control, announcer.h.ID()) {
		t.Fatal("FindProviders does not find the control key")
	}

	// Past the records' lifetime, the control key's records have expired
	// everywhere, and the root's are there: announced again.
	waitFor(t, 3*validity, "the control key's records to expire", func() bool {
		for _, p := range swarm {
			if p.has(t, control, announcer.h.ID()) {
				return false
			}
		}
		return true
	})
	if since := time.Since(announced); since < validity {
		t.Fatalf("the control key's records expired after %s, before their lifetime of %s", since, validity)
	}
	time.Sleep(validity / 2) // and again half a lifetime later
	for i, p := range swarm {
		if !p.has(t, root, n.ID()) {
			t.Errorf("DHT server %d dropped the root's record: it was not reprovided", i)
		}
	}
	if swarm[0].findsProvider(control, announcer.h.ID()) {
		t.Error("FindProviders still finds the control key after its records expired")
	}
	if !swarm[0].findsProvider(root, n.ID()) {
		t.Error("FindProviders no longer finds the pinned root after a record lifetime")
	}

	st := n.ProvideStats()
	if !st.Enabled || st.Strategy != node.ProvideRoots || st.Keys != 1 || st.Interval != validity/2 {
		t.Errorf("ProvideStats = %+v, want enabled, roots, 1 key, interval %s", st, validity/2)
	}
	if st.Provided < 3 {
		t.Errorf("ProvideStats.Provided = %d, want the announce and at least two reprovides", st.Provided)
	}
	if st.Last == nil {
		t.Fatal("ProvideStats.Last is nil after several cycles")
	}
	// Cycles are told apart by polling the provider's statistics, so a
	// reprovide due at the very start of a cycle may be counted in the one
	// before it: a single cycle may show none, and the total above is what
	// proves the reprovides.
	if st.Last.Keys != 1 || st.Last.Provided > st.Provided || !st.Last.End.After(st.Last.Start) {
		t.Errorf("ProvideStats.Last = %+v, want a finished cycle over the one key", *st.Last)
	}
}

// keys returns a closed channel holding cs.
func keys(cs ...cid.Cid) <-chan cid.Cid {
	ch := make(chan cid.Cid, len(cs))
	for _, c := range cs {
		ch <- c
	}
	close(ch)
	return ch
}

// With ProvideAll every block is announced: the blocks under a pinned
// root, and a block held but never announced (the sync at start finds
// it); with ProvideRoots only the roots.
func TestProvideStrategy(t *testing.T) {
	t.Parallel()
	swarm := newSwarm(t, 4, time.Hour)
	for _, strategy := range []string{node.ProvideAll, node.ProvideRoots} {
		t.Run(strategy, func(t *testing.T) {
			bs := blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()), blockstore.NoPrefix())
			root, leaf := smallDAG(t, bs)
			stray := blockstoretest.MustBlock(t, multicodec.Raw, []byte("held, never pinned "+strategy))
			if err := bs.Put(context.Background(), stray); err != nil {
				t.Fatal(err)
			}
			n := MustNew(t, node.Config{
				DHT:                 node.DHTServer,
				Bootstrap:           addrs(swarm),
				AllowPrivateOrigins: true,
				Blockstore:          bs,
				Provide:             strategy,
				Roots:               func(context.Context) (<-chan cid.Cid, error) { return keys(root), nil },
			})
			waitFor(t, 20*time.Second, "the node's routing table to fill", func() bool {
				return n.ProvideStats().Connectivity == "online"
			})
			if err := n.Provide(context.Background(), root); err != nil {
				t.Fatal(err)
			}
			all := strategy == node.ProvideAll
			want := map[cid.Cid]bool{root: true, leaf: all, stray.Cid(): all}
			waitFor(t, 20*time.Second, "the announced keys' records", func() bool {
				for c, w := range want {
					if w && !swarm[0].has(t, c, n.ID()) {
						return false
					}
				}
				return n.ProvideStats().Pending == 0
			})
			time.Sleep(time.Second) // time for any stray announce to land
			for c, w := range want {
				for i, p := range swarm {
					if got := p.has(t, c, n.ID()); got != w {
						t.Errorf("DHT server %d holds a record of %s: %v, want %v", i, c, got, w)
					}
				}
			}
			if got, want := n.ProvideStats().Keys, map[bool]int64{true: 3, false: 1}[all]; got != want {
				t.Errorf("ProvideStats.Keys = %d, want %d", got, want)
			}
		})
	}
}
