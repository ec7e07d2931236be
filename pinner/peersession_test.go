package pinner_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/boxo/exchange"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/internal/testpeer"
	"github.com/tack-ipfs/tack/node"
	"github.com/tack-ipfs/tack/pinner"
	"github.com/tack-ipfs/tack/sqlite/sqlitetest"
	"github.com/tack-ipfs/tack/storetest"
)

// watchedNode is a real node that records the peer sessions the pinner
// opens through it.
type watchedNode struct {
	*node.Node
	mu    sync.Mutex
	peers [][]peer.ID
}

func (n *watchedNode) NewPeerSession(ctx context.Context, peers []peer.ID) exchange.Fetcher {
	n.mu.Lock()
	n.peers = append(n.peers, slices.Clone(peers))
	n.mu.Unlock()
	return n.Node.NewPeerSession(ctx, peers)
}

func (n *watchedNode) opened() [][]peer.ID {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.peers)
}

// TestPinFromOneOriginPeer: a request whose origins name one peer is
// fetched through a peer session over that peer (package fanout), from a
// real provider; one without origins, through bitswap's
// sessions, from the peers the node is connected to.
func TestPinFromOneOriginPeer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		origins func(p *testpeer.Peer) []string
		want    func(p *testpeer.Peer) [][]peer.ID
	}{
		{"one peer, two addresses",
			func(p *testpeer.Peer) []string { return append(p.Addrs(), p.Addrs()...) },
			func(p *testpeer.Peer) [][]peer.ID { return [][]peer.ID{{p.Host().ID()}} }},
		{"no origins",
			func(p *testpeer.Peer) []string { return nil },
			func(p *testpeer.Peer) [][]peer.ID { return nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			db := sqlitetest.MustOpen(t)
			provider := testpeer.New(t)
			root := provider.AddFile(t, 1<<20, 16<<10, 1)
			bs := memBlockstore()
			n := &watchedNode{Node: newNode(t, bs, provider)}
			p := pinner.New(db, pinner.Walker{Blockstore: bs, HashedByFetcher: true}, n,
				func(context.Context) error { return nil }, "w1",
				pinner.Config{Poll: 50 * time.Millisecond}, nil)

			a := storetest.MustCreateAccount(t, db, "o@example.com")
			r := storetest.NewPin(t, a.ID, tc.name)
			r.Pin.CID, r.Key, r.Pin.Origins = root.String(), tack.ContentKey(root), tc.origins(provider)
			storetest.MustCreatePin(t, db, r)

			done := make(chan error, 1)
			go func() { done <- p.Run(ctx) }()
			for {
				got := storetest.MustFindPin(t, db, a.ID, r.ID)
				if got.Status == tack.StatusPinned {
					break
				}
				if got.Status == tack.StatusFailed || ctx.Err() != nil {
					t.Fatalf("status %s (%s), want pinned", got.Status, got.Details)
				}
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			if got, want := n.opened(), tc.want(provider); !slices.EqualFunc(got, want, slices.Equal) {
				t.Errorf("peer sessions opened over %v, want %v", got, want)
			}
			if st := p.Stats(); st.FetchedBlocks < 64 {
				t.Errorf("Stats() = %+v, want the DAG's 64 leaves fetched", st)
			}
		})
	}
}
