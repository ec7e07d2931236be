package node

import (
	"fmt"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// maxDelegates is the most delegates a PinStatus may carry.
const maxDelegates = 20

// Delegates returns the multiaddrs clients should dial to hand the node
// data, each ending in /p2p/<id>: the announce addresses if configured,
// or else the host's addresses (with 0.0.0.0 expanded to the interfaces).
// Public addresses are returned when there are any; otherwise private and
// then loopback ones, so that local deployments and tests work. There are
// between 1 and 20; with no address at all, the one delegate is /p2p/<id>,
// which a client resolves through the DHT.
func (n *Node) Delegates() []string {
	addrs := n.announce
	if len(addrs) == 0 {
		addrs = n.host.Addrs()
	}
	var public, private, loopback []multiaddr.Multiaddr
	seen := map[string]bool{}
	for _, a := range addrs {
		if seen[string(a.Bytes())] || manet.IsIPUnspecified(a) || manet.IsIP6LinkLocal(a) {
			continue
		}
		seen[string(a.Bytes())] = true
		switch {
		case manet.IsIPLoopback(a):
			loopback = append(loopback, a)
		case manet.IsPublicAddr(a):
			public = append(public, a)
		default:
			private = append(private, a)
		}
	}
	chosen := public
	if len(chosen) == 0 {
		chosen = append(private, loopback...)
	}
	id, err := multiaddr.NewComponent("p2p", n.host.ID().String())
	if err != nil {
		panic(err) // a peer ID always makes a /p2p component
	}
	out := make([]string, 0, min(len(chosen), maxDelegates))
	for _, a := range chosen[:min(len(chosen), maxDelegates)] {
		out = append(out, a.Encapsulate(id.Multiaddr()).String())
	}
	if len(out) == 0 {
		out = append(out, id.String())
	}
	return out
}

// parseAnnounce parses announce addresses, dropping a /p2p/<id> suffix that
// names this node and refusing one that names another.
func parseAnnounce(ss []string, self peer.ID) ([]multiaddr.Multiaddr, error) {
	var out []multiaddr.Multiaddr
	for _, s := range ss {
		a, err := multiaddr.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("node: announce address %q: %w", s, err)
		}
		transport, id := peer.SplitAddr(a)
		if id != "" && id != self {
			return nil, fmt.Errorf("node: announce address %q names peer %s, but this node is %s", s, id, self)
		}
		if transport == nil {
			return nil, fmt.Errorf("node: announce address %q has no transport", s)
		}
		out = append(out, transport)
	}
	return out, nil
}

// parseP2pAddrs parses multiaddrs that end in /p2p/<id>, merging the
// addresses of one peer.
func parseP2pAddrs(ss []string) ([]peer.AddrInfo, error) {
	mas := make([]multiaddr.Multiaddr, 0, len(ss))
	for _, s := range ss {
		a, err := multiaddr.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", s, err)
		}
		mas = append(mas, a)
	}
	return peer.AddrInfosFromP2pAddrs(mas...)
}

// dialable reports whether the node may dial a: public addresses always,
// loopback, private and unroutable ones (see isPublicAddr) only when
// allowPrivate.
func dialable(a multiaddr.Multiaddr, allowPrivate bool) bool {
	return allowPrivate || isPublicAddr(a)
}

// gater refuses dials to addresses that are not dialable, whoever asks
// for them: origins, the DHT, bitswap. It accepts every inbound
// connection.
type gater struct{ allowPrivate bool }

func (g gater) InterceptPeerDial(peer.ID) bool { return true }
func (g gater) InterceptAddrDial(_ peer.ID, a multiaddr.Multiaddr) bool {
	return dialable(a, g.allowPrivate)
}
func (g gater) InterceptAccept(network.ConnMultiaddrs) bool { return true }
func (g gater) InterceptSecured(network.Direction, peer.ID, network.ConnMultiaddrs) bool {
	return true
}
func (g gater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }
