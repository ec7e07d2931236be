package node

import (
	"context"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"
)

const (
	// maxOrigins is the most origin peers dialled for one pin.
	maxOrigins = 10
	// originDialTimeout bounds each dial to an origin.
	originDialTimeout = 10 * time.Second
	// protectTag marks connections that a pin in progress needs.
	protectTag = "tack-origin"
)

// Connect dials the origins of a pin, best effort: it never fails, and
// returns when every dial has finished or ctx ends. Origins that do not
// parse or do not end in /p2p/<id> are skipped, and so are loopback,
// private and unroutable addresses unless AllowPrivateOrigins is set. At
// most 10 peers are dialled, concurrently, each with a short timeout.
// Connections to the peers are protected from the connection manager
// until Unprotect is called with the same origins.
func (n *Node) Connect(ctx context.Context, origins []string) {
	peers := n.originPeers(origins)
	n.mu.Lock()
	for _, ai := range peers {
		if n.protected[ai.ID] == 0 {
			n.host.ConnManager().Protect(ai.ID, protectTag)
		}
		n.protected[ai.ID]++
	}
	n.mu.Unlock()

	var wg sync.WaitGroup
	for _, ai := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(ctx, originDialTimeout)
			defer cancel()
			_ = n.host.Connect(ctx, ai) // best effort: bitswap and the DHT carry on without it
		}()
	}
	wg.Wait()
}

// Unprotect releases the protection Connect gave the connections to the
// origins' peers; a peer stays protected while another pin needs it.
func (n *Node) Unprotect(origins []string) {
	peers := n.originPeers(origins)
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, ai := range peers {
		switch n.protected[ai.ID] {
		case 0:
		case 1:
			delete(n.protected, ai.ID)
			n.host.ConnManager().Unprotect(ai.ID, protectTag)
		default:
			n.protected[ai.ID]--
		}
	}
}

// originPeers parses and filters origins into at most maxOrigins peers
// with at least one dialable address, in the order first seen.
func (n *Node) originPeers(origins []string) []peer.AddrInfo {
	var order []peer.ID
	byID := map[peer.ID]*peer.AddrInfo{}
	for _, s := range origins {
		a, err := multiaddr.NewMultiaddr(s)
		if err != nil {
			continue
		}
		transport, id := peer.SplitAddr(a)
		if id == "" || id == n.host.ID() || transport == nil {
			continue
		}
		if !dialable(transport, n.cfg.AllowPrivateOrigins) {
			continue
		}
		ai := byID[id]
		if ai == nil {
			if len(order) == maxOrigins {
				continue
			}
			ai = &peer.AddrInfo{ID: id}
			byID[id] = ai
			order = append(order, id)
		}
		ai.Addrs = append(ai.Addrs, transport)
	}
	out := make([]peer.AddrInfo, len(order))
	for i, id := range order {
		out[i] = *byID[id]
	}
	return out
}
