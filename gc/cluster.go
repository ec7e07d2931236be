package gc

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/tack-ipfs/tack"
	tackbs "github.com/tack-ipfs/tack/blockstore"
)

// Shared is a blockstore that several nodes write to and read from: the
// S3 store, whose index lives in the metadata store they share. A node
// that collects cannot see the other nodes' sessions, so while it does,
// they touch every block their sessions find stored or store (Touch), and
// its sweep deletes only blocks that nobody wrote or touched since it
// began (DeleteUnchanged). Touch and DeleteUnchanged exclude each other
// per block, in the index: a block is either touched in time, and kept,
// or deleted first, and then reported missing to the session, which
// fetches it again.
type Shared interface {
	// Seq returns the current position in the order of the blockstore's
	// writes and touches.
	Seq(ctx context.Context) (int64, error)
	// Touch records that the blocks are in use, at a position after every
	// Seq returned before, and returns those not stored.
	Touch(ctx context.Context, cs []cid.Cid) (missing []cid.Cid, err error)
	// DeleteUnchanged deletes the blocks that ForEachBlock listed, except
	// those written or touched after the position seq, and returns how
	// many it deleted and their bytes.
	DeleteUnchanged(ctx context.Context, bs []tackbs.Stored, seq int64) (int, int64, error)
	// DropCache forgets the blocks kept in the node's local cache: after
	// another node's collection some may be gone from the shared store.
	DropCache(ctx context.Context) error
}

// ClusterStore is what coordinating with the other nodes needs of the
// metadata store.
type ClusterStore interface {
	tack.NodeStore
	tack.CollectionStore
}

// Cluster tells a Guard over a Shared blockstore how to coordinate its
// collections with the other nodes that share it.
type Cluster struct {
	Store  ClusterStore
	Node   string // this node's ID
	Blocks string // where the shared blocks are: nodes with the same value share them
	// Live is how recently a node must have saved itself to count as
	// alive: a collection waits for every live node to join it.
	Live time.Duration
	// Lease is how long a collection holds its lease between renewals
	// (renewed every third of it).
	Lease time.Duration
	// JoinTimeout is how long a collection waits for the live nodes to
	// join before it gives up.
	JoinTimeout time.Duration
}

// ErrBusy is returned by Collect when another node is collecting.
var ErrBusy = errors.New("gc: another node is collecting")

// SetCluster makes the Guard's collections coordinate with the other
// nodes of c. It has effect only over a Shared blockstore. Call it before
// any collection.
func (g *Guard) SetCluster(c Cluster) {
	if g.shared != nil {
		g.cluster = &c
	}
}

// Join makes this node's sessions touch what they use in the shared
// blockstore, for the collection epoch another node runs, and hands keep
// the blocks that its open sessions hold, for that collection to mark
// (uploads' keep lists are in the store, where the collector reads them).
// The node saves itself as joined only once Join returns.
func (g *Guard) Join(ctx context.Context, epoch int64, keep func(keys []uint64) error) error {
	if g.shared == nil {
		return nil
	}
	g.mu.Lock()
	prev := g.joined
	g.joined = epoch
	g.smu.Lock()
	open := make([]*Session, 0, len(g.sessions))
	for s := range g.sessions {
		open = append(open, s)
	}
	g.smu.Unlock()
	g.mu.Unlock()
	// From here on every session touches; what they recorded before is
	// in their snapshots.
	var keys []uint64
	for _, s := range open {
		keys = append(keys, s.snapshot()...)
	}
	if err := keep(keys); err != nil {
		// Not joined: the collection waits for this node, whose next
		// Join hands everything over again. Until then its sessions
		// record what they use, as before.
		g.mu.Lock()
		if g.joined == epoch {
			g.joined = prev
		}
		g.mu.Unlock()
		return fmt.Errorf("gc: join collection %d: %w", epoch, err)
	}
	return nil
}

// Joined returns the epoch of the collection the node has joined, 0 for
// none.
func (g *Guard) Joined() int64 {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.joined
}

// Leave ends the node's part in another node's collection: its local
// cache may hold blocks that collection deleted, so it is dropped while
// sessions still touch, and then they stop.
func (g *Guard) Leave(ctx context.Context) error {
	if g.shared == nil || g.Joined() == 0 {
		return nil
	}
	if err := g.shared.DropCache(ctx); err != nil {
		return fmt.Errorf("gc: leaving a collection: %w", err)
	}
	g.mu.Lock()
	g.joined = 0
	g.mu.Unlock()
	return nil
}

// Follow makes the node take its part in the collections other nodes
// run over the shared blockstore, as of now: it joins a collection that
// another node runs and the node has not joined yet, handing the blocks
// it holds to the store (KeepForCollection), and it leaves once no other
// node's collection runs. It returns the epoch it joined, 0 if it joined
// none: the caller must then save the node with Collection set to it, so
// that the collector sees it joined. Call it every heartbeat, after
// saving the node. It has effect only after SetCluster.
func (g *Guard) Follow(ctx context.Context, now time.Time) (int64, error) {
	c := g.cluster
	if c == nil {
		return 0, nil
	}
	col, err := c.Store.RunningCollection(ctx, now)
	if err != nil {
		return 0, err
	}
	if col == nil || col.Node == c.Node {
		return 0, g.Leave(ctx)
	}
	if col.Epoch <= g.Joined() {
		return 0, nil
	}
	err = g.Join(ctx, col.Epoch, func(keys []uint64) error {
		return c.Store.KeepForCollection(ctx, col.Epoch, keys)
	})
	if err != nil {
		return 0, err
	}
	return col.Epoch, nil
}

// clusterRun is a collection's coordination with the other nodes.
type clusterRun struct {
	c     *Cluster
	epoch int64
	seq   int64 // the shared blockstore's position before the collection began
	stop  context.CancelFunc
	lost  chan struct{} // closed if the lease could not be renewed
	start time.Time     // when the lease was asked for, with the monotonic clock

	// until is when the lease runs out, as this node's clock (monotonic)
	// measures it: the Lease from when the last successful renewal was
	// sent. Past it, the other nodes take the collection for over and
	// stop touching what their sessions find, whether or not this node
	// learnt that its renewals failed. In nanoseconds after start.
	until atomic.Int64

	// members are the nodes that had joined when the mark began; a node
	// that appears later (started, or back after a pause) makes the sweep
	// stop, since what it held is not in the mark.
	members map[string]bool
}

// begin takes the collection lease, then waits until every live node
// that shares the blockstore has joined.
func (g *Guard) begin(ctx context.Context) (*clusterRun, error) {
	c := g.cluster
	// The position first: every touch of a node that joins comes after.
	seq, err := g.shared.Seq(ctx)
	if err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	asked := time.Now()
	col, err := c.Store.BeginCollection(ctx, c.Node, asked.Add(c.Lease))
	if tack.ErrorCode(err) == tack.ECONFLICT {
		return nil, ErrBusy
	} else if err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	rctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	r := &clusterRun{c: c, epoch: col.Epoch, seq: seq, stop: stop, lost: make(chan struct{}), start: asked}
	r.until.Store(int64(c.Lease))
	go r.renew(rctx)
	if err := r.waitJoined(ctx); err != nil {
		r.end()
		return nil, err
	}
	return r, nil
}

// renew extends the lease every third of it until stopped.
func (r *clusterRun) renew(ctx context.Context) {
	t := time.NewTicker(r.c.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// A renewal that reaches the store after the lease ran out may
		// succeed, though the other nodes have left meanwhile: it must
		// be sent, and answered, before. check stops the sweep well
		// before anyway.
		asked := time.Now()
		left := r.left(asked)
		if left <= 0 {
			close(r.lost)
			return
		}
		rctx, cancel := context.WithTimeout(ctx, left)
		err := r.c.Store.RenewCollection(rctx, r.c.Node, r.epoch, asked.Add(r.c.Lease))
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil || r.left(time.Now()) <= 0 {
			close(r.lost)
			return
		}
		r.until.Store(asked.Add(r.c.Lease).Sub(r.start).Nanoseconds())
	}
}

// left returns how long the lease runs on at now.
func (r *clusterRun) left(now time.Time) time.Duration {
	return time.Duration(r.until.Load()) - now.Sub(r.start)
}

// waitJoined polls the node list until every live node of the same
// blocks has joined the epoch.
func (r *clusterRun) waitJoined(ctx context.Context) error {
	deadline := time.Now().Add(r.c.JoinTimeout)
	for {
		nodes, err := r.c.peers(ctx)
		if err != nil {
			return err
		}
		var waiting []string
		for _, n := range nodes {
			if n.Collection < r.epoch {
				waiting = append(waiting, n.ID)
			}
		}
		if len(waiting) == 0 {
			r.members = map[string]bool{}
			for _, n := range nodes {
				r.members[n.ID] = true
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gc: nodes %v did not join collection %d within %s", waiting, r.epoch, r.c.JoinTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// mark adds what the joined nodes hold to live.
func (r *clusterRun) mark(ctx context.Context, live map[uint64]struct{}) error {
	return r.c.Store.CollectionKeeps(ctx, r.epoch, func(keys []uint64) error {
		for _, k := range keys {
			live[k] = struct{}{}
		}
		return nil
	})
}

// check returns an error if the lease was lost, or soon runs out: the
// other nodes may have left the collection, or another node may be
// collecting, so this one must not go on deleting. The last third of the
// lease, which renewals every third of it never reach while they
// succeed, is left for the batch about to be deleted, and for the skew
// between the clocks of the nodes.
//
// It also reads the node list (one indexed read of a few rows, against a
// batch's 128 deletes): a node that was not a member when the mark began
// stops the collection (the next one includes it), because the blocks
// its fetches and uploads held then are not in the mark.
func (r *clusterRun) check(ctx context.Context) error {
	select {
	case <-r.lost:
		return fmt.Errorf("gc: lost the lease of collection %d", r.epoch)
	default:
	}
	if r.left(time.Now()) < r.c.Lease/3 {
		return fmt.Errorf("gc: the lease of collection %d runs out: its renewals did not succeed in time", r.epoch)
	}
	nodes, err := r.c.peers(ctx)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if !r.members[n.ID] {
			return fmt.Errorf("gc: node %s appeared during collection %d, which stops; the next one includes it", n.ID, r.epoch)
		}
	}
	return nil
}

// peers returns the other live nodes that share the blockstore.
func (c *Cluster) peers(ctx context.Context) ([]*tack.Node, error) {
	nodes, err := c.Store.FindNodes(ctx, time.Now().Add(-c.Live))
	if err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	peers := nodes[:0]
	for _, n := range nodes {
		if n.ID != c.Node && n.Blocks == c.Blocks {
			peers = append(peers, n)
		}
	}
	return peers, nil
}

// end stops renewing and ends the collection.
func (r *clusterRun) end() {
	r.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = r.c.Store.EndCollection(ctx, r.c.Node, r.epoch)
}

// ErrFenced is returned by a session of a node that was out of touch with
// the store for longer than Cluster.Live while the session was open: a
// collection may have run without it meanwhile and deleted blocks the
// session found stored. The fetch or upload must start again.
var ErrFenced = errors.New("gc: this node was out of touch with the other nodes for longer than the node lease; its fetches and uploads start again")

// Alive tells the Guard that the node saved itself in the store, as asked
// at t (this process's clock). A gap longer than Cluster.Live since the
// last save fences every open session: the other nodes took this one for
// gone, and may have collected without it.
func (g *Guard) Alive(t time.Time) {
	if g.cluster == nil {
		return
	}
	prev := g.beat.Swap(&t)
	if prev != nil && t.Sub(*prev) > g.cluster.Live {
		g.fence()
	}
}

// fence marks every open session fenced.
func (g *Guard) fence() {
	g.smu.Lock()
	defer g.smu.Unlock()
	for s := range g.sessions {
		s.mu.Lock()
		s.fenced = true
		s.mu.Unlock()
	}
}

// live returns ErrFenced if the session is fenced, or if the node's last
// save is older than Cluster.Live (the heartbeat has not noticed yet):
// then the session is fenced for good.
func (s *Session) live() error {
	c := s.g.cluster
	if c == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.fenced {
		if b := s.g.beat.Load(); b != nil && time.Since(*b) > c.Live {
			s.fenced = true
		}
	}
	if s.fenced {
		return ErrFenced
	}
	return nil
}
