// Package node is tack's embedded IPFS node: a libp2p host with a
// persistent identity (TCP and QUIC), a bitswap client and server over
// tack's blockstore, and an optional Kademlia DHT. It fetches DAGs from
// the network, serves every stored block back, dials the origins of pin
// requests and knows the node's delegates.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ipfs/boxo/bitswap"
	bsnet "github.com/ipfs/boxo/bitswap/network/bsnet"
	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/exchange"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	dhtprovider "github.com/libp2p/go-libp2p-kad-dht/provider"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/core/routing"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/multiformats/go-multiaddr"
	"github.com/multiformats/go-multihash"
	"github.com/tack-ipfs/tack/fanout"
)

// The DHT modes Config.DHT accepts.
const (
	DHTAuto   = "auto"   // client until the node learns it is publicly reachable, then server
	DHTClient = "client" // query the DHT, never answer queries
	DHTServer = "server" // query and answer: for a publicly reachable node
	DHTOff    = "off"    // no DHT at all: fetch only from origins and connected peers
)

// Config configures a Node.
type Config struct {
	// KeyFile holds the node's Ed25519 libp2p identity. It is created with
	// mode 0600 on first start and reused after, so the peer ID (and with
	// it every delegate address handed to clients) stays the same. Empty
	// means a new identity on every start, for tests.
	KeyFile string
	// Listen are the multiaddrs to listen on, TCP and QUIC, e.g.
	// /ip4/0.0.0.0/tcp/4001 and /ip4/0.0.0.0/udp/4001/quic-v1. Nil means
	// DefaultListen().
	Listen []string
	// Announce, if set, are the addresses the node announces to peers and
	// returns as delegates, instead of the addresses it listens on.
	Announce []string
	// Bootstrap are peers to connect to in the background at start;
	// nil or empty means none. DefaultBootstrap() lists the public IPFS
	// bootstrap peers.
	Bootstrap []string
	// DHT is the DHT mode: "auto", "client", "server" or "off". Empty
	// means "auto".
	DHT string
	// AllowPrivateOrigins lets the node dial loopback, private and
	// unroutable addresses: origins of pins, and any peer's. Leave it off
	// on a server on the internet (hosting providers treat dials to
	// private ranges as network scans, and origins must not probe the
	// operator's network); turn it on for local deployments and tests.
	AllowPrivateOrigins bool
	// Blockstore holds the blocks the node serves to any peer over
	// bitswap. Required.
	Blockstore blockstore.Blockstore
	// Bitswap are options applied after tack's own bitswap settings, for
	// benchmarks and experiments.
	Bitswap []bitswap.Option

	// Provide is what the node announces on the DHT, and announces again
	// every ReprovideInterval so that the records never lapse: ProvideAll
	// (every block, the default) or ProvideRoots (the root of every
	// pinned DAG, as Roots lists them). Nothing is provided when the DHT
	// is off.
	Provide string
	// Roots lists the roots of the pinned DAGs, for ProvideRoots.
	Roots func(context.Context) (<-chan cid.Cid, error)
	// ReprovideInterval is how often every key is announced again; zero
	// means DefaultReprovideInterval.
	ReprovideInterval time.Duration
	// ProvideDir holds the provider's keystore and schedule; empty keeps
	// them in memory (tests).
	ProvideDir string
	// Logger receives the provider's progress; nil discards it.
	Logger *slog.Logger
	// DHTOptions and Provider are applied after tack's own DHT and
	// provider options, for tests (short record lifetimes) and
	// experiments.
	DHTOptions []dht.Option
	Provider   []dhtprovider.Option
}

// DefaultListen returns the addresses a node listens on when Config.Listen
// is nil: TCP and QUIC on port 4001, IPv4 and IPv6.
func DefaultListen() []string {
	return []string{
		"/ip4/0.0.0.0/tcp/4001",
		"/ip4/0.0.0.0/udp/4001/quic-v1",
		"/ip6/::/tcp/4001",
		"/ip6/::/udp/4001/quic-v1",
	}
}

// DefaultBootstrap returns the public IPFS bootstrap peers, as the
// go-libp2p-kad-dht defaults list them.
func DefaultBootstrap() []string {
	out := make([]string, len(dht.DefaultBootstrapPeers))
	for i, ma := range dht.DefaultBootstrapPeers {
		out[i] = ma.String()
	}
	return out
}

// Node is a running IPFS node. Create it with New and stop it with Close.
type Node struct {
	host     host.Host
	dht      *dht.IpfsDHT // nil when the DHT is off
	provide  *providing   // nil when the DHT is off
	bitswap  *bitswap.Bitswap
	fanout   *fanout.Network
	announce []multiaddr.Multiaddr
	cfg      Config

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	protected map[peer.ID]int // how many pins need a connection to the peer
}

// New starts a node. It never waits on the network: the bootstrap
// connections and the DHT start in the background.
func New(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.Blockstore == nil {
		return nil, errors.New("node: a blockstore is required")
	}
	mode, err := parseDHTMode(cfg.DHT)
	if err != nil {
		return nil, err
	}
	if cfg.Listen == nil {
		cfg.Listen = DefaultListen()
	}
	bootstrap, err := parseP2pAddrs(cfg.Bootstrap)
	if err != nil {
		return nil, fmt.Errorf("node: bootstrap: %w", err)
	}
	sk, err := loadOrCreateKey(cfg.KeyFile)
	if err != nil {
		return nil, err
	}
	id, err := peer.IDFromPrivateKey(sk)
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	announce, err := parseAnnounce(cfg.Announce, id)
	if err != nil {
		return nil, err
	}

	n := &Node{
		announce:  announce,
		cfg:       cfg,
		protected: map[peer.ID]int{},
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())

	cm, err := connmgr.NewConnManager(100, 400, connmgr.WithGracePeriod(time.Minute))
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(resourceLimits()))
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	opts := []libp2p.Option{
		libp2p.Identity(sk),
		libp2p.ListenAddrStrings(cfg.Listen...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		libp2p.ConnectionManager(cm),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionGater(gater{allowPrivate: cfg.AllowPrivateOrigins}),
		libp2p.UserAgent("tack"),
		// Tell other peers whether they are reachable, which helps nodes
		// in DHT auto mode (ours included) decide to serve.
		libp2p.EnableNATService(),
	}
	if len(announce) > 0 {
		opts = append(opts, libp2p.AddrsFactory(func([]multiaddr.Multiaddr) []multiaddr.Multiaddr {
			return announce
		}))
	}
	if mode != nil {
		opts = append(opts, libp2p.Routing(func(h host.Host) (routing.PeerRouting, error) {
			dopts := append([]dht.Option{dht.Mode(*mode), dht.BootstrapPeers(bootstrap...)}, cfg.DHTOptions...)
			d, err := dht.New(h, dopts...)
			n.dht = d
			return d, err
		}))
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		rm.Close()
		return nil, fmt.Errorf("node: start libp2p: %w", err)
	}
	n.host = h

	var providers routing.ContentDiscovery // bitswap looks for providers of what origins lack
	if n.dht != nil {
		providers = n.dht
	}
	bsOpts := append(bitswapOptions(), cfg.Bitswap...)
	n.fanout = fanout.New(bsnet.NewFromIpfsHost(h))
	n.bitswap = bitswap.New(n.ctx, n.fanout, providers, cfg.Blockstore, bsOpts...)

	if n.dht != nil {
		if n.provide, err = newProviding(ctx, cfg, n.dht); err != nil {
			n.cancel()
			n.bitswap.Close()
			n.dht.Close()
			h.Close()
			return nil, err
		}
		n.provide.start(n.ctx)
	}

	if len(bootstrap) > 0 {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.bootstrap(bootstrap)
		}()
	}
	return n, nil
}

// bootstrap connects to the bootstrap peers, then starts the DHT's
// bootstrap, all in the background.
func (n *Node) bootstrap(peers []peer.AddrInfo) {
	var wg sync.WaitGroup
	for _, ai := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(n.ctx, 30*time.Second)
			defer cancel()
			_ = n.host.Connect(ctx, ai) // best effort
		}()
	}
	wg.Wait()
	if n.dht != nil && n.ctx.Err() == nil {
		_ = n.dht.Bootstrap(n.ctx)
	}
}

// parseDHTMode validates a Config.DHT value; nil means off.
func parseDHTMode(s string) (*dht.ModeOpt, error) {
	var m dht.ModeOpt
	switch s {
	case DHTAuto, "":
		m = dht.ModeAuto
	case DHTClient:
		m = dht.ModeClient
	case DHTServer:
		m = dht.ModeServer
	case DHTOff:
		return nil, nil
	default:
		return nil, fmt.Errorf("node: DHT mode %q: want auto, client, server or off", s)
	}
	return &m, nil
}

// ID returns the node's peer ID.
func (n *Node) ID() peer.ID { return n.host.ID() }

// Host returns the node's libp2p host.
func (n *Node) Host() host.Host { return n.host }

// NewSession returns a bitswap session for fetching one DAG: it learns
// which peers have the DAG's blocks and asks them first. The session does
// not store what it fetches; the caller checks and stores blocks itself.
// It ends with ctx.
func (n *Node) NewSession(ctx context.Context) exchange.Fetcher {
	return n.bitswap.NewSession(ctx)
}

// NewPeerSession returns a session that fetches from peers at once,
// spreading its wants over them (see package fanout), and asks a bitswap
// session for the blocks none of them has. It ends with ctx.
func (n *Node) NewPeerSession(ctx context.Context, peers []peer.ID) exchange.Fetcher {
	return n.fanout.NewSession(ctx, peers, n.NewSession)
}

// Unwanted returns once bitswap wants none of keys from any peer, or when
// ctx ends. A session closed with blocks in flight cancels its wants in
// the background; a new session that wants the same blocks before those
// cancels went out can lose its wants (see pinner.Walker's Rewant), and
// waiting for them avoids that.
func (n *Node) Unwanted(ctx context.Context, keys []cid.Cid) {
	if len(keys) == 0 {
		return
	}
	set := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		set[string(k.Hash())] = struct{}{}
	}
	wanted := func() bool {
		for _, c := range n.bitswap.GetWantlist() {
			if _, ok := set[string(c.Hash())]; ok {
				return true
			}
		}
		return false
	}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for wanted() {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Provide announces on the DHT that the node holds the DAG under c, and
// keeps announcing it every reprovide interval: its root, and with
// ProvideAll every block of it in the blockstore. The announce itself
// runs in the background; Provide returns once the keys are queued. It
// returns nil at once when the DHT is off, and for an identity CID, which
// carries its block: no peer looks for providers of one.
func (n *Node) Provide(ctx context.Context, c cid.Cid) error {
	if n.provide == nil || c.Prefix().MhType == multihash.IDENTITY {
		return nil
	}
	if err := n.provide.provideDAG(ctx, c); err != nil {
		return fmt.Errorf("node: provide %s: %w", c, err)
	}
	return nil
}

// Close stops the node: bitswap, the DHT and the host.
func (n *Node) Close() error {
	n.cancel()
	n.wg.Wait()
	var errs []error
	errs = append(errs, n.bitswap.Close())
	if n.provide != nil {
		errs = append(errs, n.provide.close())
	}
	if n.dht != nil {
		errs = append(errs, n.dht.Close())
	}
	errs = append(errs, n.host.Close())
	return errors.Join(errs...)
}

// resourceLimits are libp2p's default limits, scaled to the machine, with
// room for bitswap's bursts.
//
// A bitswap peer sends every message on a new stream, and a peer that
// serves a DAG fast has many of them open at once. libp2p's default of 64
// inbound streams per protocol and peer then resets the rest, and the
// blocks they carried are lost: the session waits for its next
// rebroadcast, tens of seconds later (a 50,000-block fetch stalled at 78%
// for 43 s). The per-peer and system limits still bound what one peer or
// all of them can hold.
func resourceLimits() rcmgr.ConcreteLimitConfig {
	limits := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&limits)
	for _, proto := range []protocol.ID{bsnet.ProtocolBitswap, bsnet.ProtocolBitswapOneOne, bsnet.ProtocolBitswapOneZero, bsnet.ProtocolBitswapNoVers} {
		limits.AddProtocolPeerLimit(proto,
			rcmgr.BaseLimit{StreamsInbound: 1024, StreamsOutbound: 1024, Streams: 2048, Memory: 64 << 20},
			rcmgr.BaseLimitIncrease{Memory: 64 << 20})
		limits.AddProtocolLimit(proto,
			rcmgr.BaseLimit{StreamsInbound: 4096, StreamsOutbound: 4096, Streams: 8192, Memory: 256 << 20},
			rcmgr.BaseLimitIncrease{StreamsInbound: 1024, StreamsOutbound: 1024, Streams: 2048, Memory: 256 << 20})
	}
	return limits.AutoScale()
}
