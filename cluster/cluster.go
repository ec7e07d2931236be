// Package cluster is a node's place among the tack nodes that share its
// metadata store: the node saves itself every heartbeat, learns which of
// the others are alive, takes its part in the garbage collections they
// run over blocks it shares with them, and names them as delegates.
//
// `tack serve` runs one Member; the gc package's cluster tests run several
// in one process.
package cluster

import (
	"context"
	"sync"
	"time"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/gc"
)

// Nodes that share a store save themselves every Heartbeat; one not seen
// for NodeLease is taken for gone: it is no longer a delegate, and a
// collection does not wait for it.
const (
	Heartbeat = 2 * time.Second
	NodeLease = 15 * time.Second
	// CollectionLease is how long a node's collection holds the others
	// off if the node dies collecting (renewed every third of it).
	CollectionLease = 30 * time.Second
)

// GC returns how a node's collections over the bucket blocks (its
// --blocks) coordinate with the other nodes of store: the node leases and
// timeouts of this package.
func GC(store gc.ClusterStore, node, blocks string) gc.Cluster {
	return gc.Cluster{Store: store, Node: node, Blocks: blocks,
		Live: NodeLease, Lease: CollectionLease, JoinTimeout: 2 * NodeLease}
}

// MaxDelegates is how many multiaddrs a pin's delegates list at most,
// the node's own first (node.Delegates returns up to as many).
const MaxDelegates = 20

// Member is this node's place among the nodes that share its store.
type Member struct {
	store  gc.ClusterStore
	guard  *gc.Guard
	own    func() []string // the node's own delegates
	shared bool            // blocks are shared with every node of the same Blocks

	mu     sync.Mutex
	self   tack.Node
	others []*tack.Node // live nodes sharing the blocks, as of the last heartbeat
}

// New returns the Member that saves self in store. own returns the node's
// own delegates, saved as its Addrs. If shared, the node's blocks are
// shared with every node of the same self.Blocks: guard, whose cluster
// is set (gc.Guard.SetCluster), takes part in their collections, and
// their addresses are delegates too.
func New(store gc.ClusterStore, guard *gc.Guard, self tack.Node, own func() []string, shared bool) *Member {
	return &Member{store: store, guard: guard, self: self, own: own, shared: shared}
}

// Save records the node alive and reads which others are: one heartbeat.
func (m *Member) Save(ctx context.Context) error {
	m.mu.Lock()
	self := m.self
	m.mu.Unlock()
	self.Addrs = m.own()
	asked := time.Now()
	if err := m.store.SaveNode(ctx, &self); err != nil {
		return err
	}
	if m.shared {
		// Out of touch for longer than NodeLease, the fetches and uploads
		// open meanwhile start again (gc.ErrFenced).
		m.guard.Alive(asked)
	}
	nodes, err := m.store.FindNodes(ctx, self.Seen.Add(-NodeLease))
	if err != nil {
		return err
	}
	var others []*tack.Node
	for _, n := range nodes {
		if n.ID != self.ID && m.shared && n.Blocks == self.Blocks {
			others = append(others, n)
		}
	}
	m.mu.Lock()
	m.others = others
	m.mu.Unlock()
	if m.shared {
		return m.follow(ctx, self.Seen)
	}
	return nil
}

// follow joins the collection another node runs over the shared blocks,
// and saves the node again at once so that the collector sees it joined;
// and it leaves once that collection is over.
func (m *Member) follow(ctx context.Context, now time.Time) error {
	epoch, err := m.guard.Follow(ctx, now)
	if err != nil || epoch == 0 {
		return err
	}
	m.mu.Lock()
	m.self.Collection = epoch
	self := m.self
	m.mu.Unlock()
	self.Addrs = m.own()
	return m.store.SaveNode(ctx, &self)
}

// Run saves the node every Heartbeat until ctx ends, then deletes its
// record, so that the others stop naming it at once.
func (m *Member) Run(ctx context.Context, log func(msg string, args ...any)) {
	t := time.NewTicker(Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := m.store.DeleteNode(dctx, m.self.ID); err != nil {
				log("removing this node from the store's node list", "err", err)
			}
			return
		case <-t.C:
		}
		if err := m.Save(ctx); err != nil && ctx.Err() == nil {
			log("saving this node in the store", "err", err)
		}
	}
}

// Delegates returns the multiaddrs a pin's delegates list: the node's
// own, then those of the other live nodes that can serve the same blocks,
// up to MaxDelegates.
func (m *Member) Delegates() []string {
	out := m.own()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range m.others {
		for _, a := range n.Addrs {
			if len(out) >= MaxDelegates {
				return out
			}
			out = append(out, a)
		}
	}
	return out
}
