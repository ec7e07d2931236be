// Package testpeer is a real, in-process IPFS peer for tests and
// benchmarks: a libp2p host on 127.0.0.1, a bitswap client and server with
// Kubo's default settings, and an in-memory blockstore. It adds random
// UnixFS files and DAGs of every codec tack accepts (and some it refuses),
// and fetches whole DAGs back from other peers to prove they serve them.
package testpeer

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/ipfs/boxo/bitswap"
	bsnet "github.com/ipfs/boxo/bitswap/network/bsnet"
	"github.com/ipfs/boxo/blockstore"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
)

// Peer is an in-process IPFS peer. Create it with New.
type Peer struct {
	host    host.Host
	bstore  blockstore.Blockstore
	bitswap *bitswap.Bitswap
	cancel  context.CancelFunc
	once    sync.Once
}

// New starts a peer listening on /ip4/127.0.0.1/tcp/0 with an empty
// in-memory blockstore, which answers identity CIDs from the CID itself as
// Kubo's does. It is closed by tb.Cleanup.
func New(tb testing.TB) *Peer {
	tb.Helper()
	p, err := Start()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.close() })
	return p
}

// Start is New for a program rather than a test: the caller closes the
// peer.
func Start() (*Peer, error) {
	h, err := NewHost()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	// As in Kubo, identity CIDs are answered from the CID itself and
	// never stored.
	bs := blockstore.NewIdStore(blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()), blockstore.NoPrefix()))
	// No content routing: peers find each other by connecting directly,
	// as tack does with origins.
	bsw := bitswap.New(ctx, bsnet.NewFromIpfsHost(h), nil, bs)
	return &Peer{host: h, bstore: bs, bitswap: bsw, cancel: cancel}, nil
}

// NewHost returns a libp2p host as a Peer's: a new Ed25519 identity,
// TCP on 127.0.0.1 only, no resource limits, relay or metrics. The caller
// closes it.
func NewHost() (host.Host, error) {
	sk, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		return nil, err
	}
	return libp2p.New(
		libp2p.Identity(sk),
		libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.ResourceManager(&network.NullResourceManager{}),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
	)
}

func (p *Peer) close() {
	p.once.Do(func() {
		p.bitswap.Close()
		p.host.Close()
		p.cancel()
	})
}

// Close stops the peer before the test ends: it goes offline, as a user's
// laptop does once its content is pinned.
func (p *Peer) Close() { p.close() }

// Addrs returns the peer's full multiaddrs, each ending in /p2p/<id>.
func (p *Peer) Addrs() []string {
	mas, err := peer.AddrInfoToP2pAddrs(host.InfoFromHost(p.host))
	if err != nil {
		panic(fmt.Sprintf("testpeer: %v", err)) // only for a host without an ID
	}
	out := make([]string, len(mas))
	for i, ma := range mas {
		out[i] = ma.String()
	}
	return out
}

// Host returns the peer's libp2p host.
func (p *Peer) Host() host.Host { return p.host }

// Blockstore returns the peer's blockstore; the peer serves every block in
// it over bitswap.
func (p *Peer) Blockstore() blockstore.Blockstore { return p.bstore }

// Bitswap returns the peer's bitswap client and server.
func (p *Peer) Bitswap() *bitswap.Bitswap { return p.bitswap }
