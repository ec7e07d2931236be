package main

import (
	"context"
	"sync"
	"time"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/gc"
)

// Nodes that share a store save themselves every heartbeat; one not seen
// for nodeLease is taken for gone: it is no longer a delegate, and a
// collection does not wait for it.
const (
	heartbeat = 2 * time.Second
	nodeLease = 15 * time.Second
	// collectionLease is how long a node's collection holds the others
	// off if the node dies collecting (renewed every third of it).
	collectionLease = 30 * time.Second
)

// gcCluster is how a node's collections over the bucket blocks (its
// --blocks) coordinate with the other nodes of store: the node leases and
// timeouts of this file.
func gcCluster(store gc.ClusterStore, node, blocks string) gc.Cluster {
	return gc.Cluster{Store: store, Node: node, Blocks: blocks,
		Live: nodeLease, Lease: collectionLease, JoinTimeout: 2 * nodeLease}
}

// maxDelegates is how many multiaddrs a pin's delegates list at most,
// the node's own first (node.Delegates returns up to as many).
const maxDelegates = 20

// cluster is this node's place among the nodes that share its store.
type cluster struct {
	store  gc.ClusterStore
	guard  *gc.Guard
	self   tack.Node
	own    func() []string // the node's own delegates
	shared bool            // blocks are shared with every node of the same Blocks

	mu     sync.Mutex
	others []*tack.Node // live nodes sharing the blocks, as of the last heartbeat
}

// save records the node alive and reads which others are.
func (c *cluster) save(ctx context.Context) error {
	c.mu.Lock()
	self := c.self
	c.mu.Unlock()
	self.Addrs = c.own()
	asked := time.Now()
	if err := c.store.SaveNode(ctx, &self); err != nil {
		return err
	}
	if c.shared {
		// Out of touch for longer than nodeLease, the fetches and uploads
		// open meanwhile start again (gc.ErrFenced).
		c.guard.Alive(asked)
	}
	nodes, err := c.store.FindNodes(ctx, self.Seen.Add(-nodeLease))
	if err != nil {
		return err
	}
	var others []*tack.Node
	for _, n := range nodes {
		if n.ID != self.ID && c.shared && n.Blocks == self.Blocks {
			others = append(others, n)
		}
	}
	c.mu.Lock()
	c.others = others
	c.mu.Unlock()
	if c.shared {
		return c.follow(ctx, self.Seen)
	}
	return nil
}

// follow joins the collection another node runs over the shared blocks,
// and saves the node again at once so that the collector sees it joined;
// and it leaves once that collection is over.
func (c *cluster) follow(ctx context.Context, now time.Time) error {
	epoch, err := c.guard.Follow(ctx, now)
	if err != nil || epoch == 0 {
		return err
	}
	c.mu.Lock()
	c.self.Collection = epoch
	self := c.self
	c.mu.Unlock()
	self.Addrs = c.own()
	return c.store.SaveNode(ctx, &self)
}

// run saves the node every heartbeat until ctx ends, then deletes its
// record, so that the others stop naming it at once.
func (c *cluster) run(ctx context.Context, log func(msg string, args ...any)) {
	t := time.NewTicker(heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := c.store.DeleteNode(dctx, c.self.ID); err != nil {
				log("removing this node from the store's node list", "err", err)
			}
			return
		case <-t.C:
		}
		if err := c.save(ctx); err != nil && ctx.Err() == nil {
			log("saving this node in the store", "err", err)
		}
	}
}

// Delegates returns the multiaddrs a pin's delegates list: the node's
// own, then those of the other live nodes that can serve the same blocks,
// up to maxDelegates.
func (c *cluster) Delegates() []string {
	out := c.own()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.others {
		for _, a := range n.Addrs {
			if len(out) >= maxDelegates {
				return out
			}
			out = append(out, a)
		}
	}
	return out
}
