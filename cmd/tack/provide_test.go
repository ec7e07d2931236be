package main

import (
	"context"
	"testing"
	"time"

	pinclient "github.com/ipfs/boxo/pinning/remote/client"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/tack-ipfs/tack/internal/testpeer"
	"github.com/tack-ipfs/tack/node"
)

// A real tack serve with --provide roots, among DHT servers on loopback:
// a pinned root is announced (the pinner's Provide), and after a restart
// it is announced again from the store's list of pinned DAGs, with no new
// pin; an inner block is not.
func TestServeProvidesPinnedRoots(t *testing.T) {
	t.Parallel()
	var swarm []*dht.IpfsDHT
	var bootstrap []string
	for range 3 {
		h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
		if err != nil {
			t.Fatal(err)
		}
		d, err := dht.New(h, dht.Mode(dht.ModeServer))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close(); h.Close() })
		for _, q := range swarm {
			if err := h.Connect(t.Context(), peer.AddrInfo{ID: q.Host().ID(), Addrs: q.Host().Addrs()}); err != nil {
				t.Fatal(err)
			}
		}
		swarm = append(swarm, d)
		bootstrap = append(bootstrap, h.Addrs()[0].String()+"/p2p/"+h.ID().String())
	}
	holds := func(c cid.Cid, p peer.ID) bool {
		ais, _ := swarm[0].ProviderStore().GetProviders(context.Background(), c.Hash())
		for _, ai := range ais {
			if ai.ID == p {
				return true
			}
		}
		return false
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}

	origin := testpeer.New(t)
	root := origin.AddDAGCBOR(t, 20)
	all, err := testpeer.AllCIDs(t.Context(), origin.Blockstore(), root)
	if err != nil || len(all) < 2 {
		t.Fatalf("the DAG's blocks: %v, %v", all, err)
	}
	dir := tempData(t)
	roots := func(c *Config) {
		c.DHT, c.Bootstrap, c.Provide = "server", bootstrap, node.ProvideRoots
	}
	m := MustOpenMain(t, dir, roots)
	api := m.Client(m.AdminToken)
	ps, err := api.Add(t.Context(), root, pinclient.PinOpts.WithOrigins(Origins(t, origin)...))
	if err != nil {
		t.Fatal(err)
	}
	WaitStatus(t, api, ps.GetRequestId(), pinclient.StatusPinned, time.Minute)
	wait("the pinned root's record", func() bool { return holds(root, m.Node.ID()) })
	if st := m.Node.ProvideStats(); st.Strategy != node.ProvideRoots || !st.Enabled {
		t.Errorf("ProvideStats = %+v, want roots", st)
	}
	id := m.Node.ID()
	m.Close()

	// A DHT server that never heard of the root: the restarted tack must
	// announce it from its store alone.
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := dht.New(h, dht.Mode(dht.ModeServer))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fresh.Close(); h.Close() })
	swarm[0] = fresh // holds looks here now
	m = MustOpenMain(t, dir, func(c *Config) {
		roots(c)
		c.Bootstrap = []string{h.Addrs()[0].String() + "/p2p/" + h.ID().String()}
	})
	if m.Node.ID() != id {
		t.Fatal("the node's identity changed")
	}
	wait("the root announced again after the restart", func() bool { return holds(root, id) })
	wait("the keystore synced", func() bool { return !m.Node.ProvideStats().Synced.IsZero() })
	if got := m.Node.ProvideStats().Keys; got != 1 {
		t.Errorf("ProvideStats.Keys = %d, want 1: the root only", got)
	}
	for _, b := range all {
		if b != root && holds(b, id) {
			t.Errorf("inner block %s announced with --provide roots", b)
		}
	}
}
