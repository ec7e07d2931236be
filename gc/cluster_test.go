package gc_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/blockstore"
	"github.com/tack-ipfs/tack/blockstore/s3"
	tackcluster "github.com/tack-ipfs/tack/cluster"
	"github.com/tack-ipfs/tack/gc"
	"github.com/tack-ipfs/tack/internal/miniotest"
	"github.com/tack-ipfs/tack/internal/pgtest"
	"github.com/tack-ipfs/tack/internal/testpeer"
	"github.com/tack-ipfs/tack/postgres"
	"github.com/tack-ipfs/tack/sqlite"
	"github.com/tack-ipfs/tack/storetest"
)

// The tests of this file run several nodes in one process, each with its
// own handle on one metadata store (PostgreSQL, and SQLite through one
// file) and its own S3 store over one bucket of a real MinIO, with its own
// local cache, Guard and keep lists: everything two `tack serve` processes
// share, they share here only through the store and the bucket.

// clusterDB is what a node needs of the metadata store.
type clusterDB interface {
	tack.Store
	tack.DAGStore
	blockstore.PackIndex
}

// blocksAt is the nodes' Blocks: they all share the bucket.
const blocksAt = "s3://tack/cluster"

// backends prepares, for each kind of store, a function that creates a
// store for one test and returns a function that opens a new handle on
// it each time it is called.
var backends = []struct {
	name    string
	prepare func(t *testing.T) func(t *testing.T) func() clusterDB
}{
	{"postgres", func(t *testing.T) func(t *testing.T) func() clusterDB {
		tmpl := pgtest.Shared(t)
		return func(t *testing.T) func() clusterDB {
			url := tmpl.New(t)
			return func() clusterDB {
				db, err := postgres.Open(context.Background(), url)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				return db
			}
		}
	}},
	{"sqlite", func(t *testing.T) func(t *testing.T) func() clusterDB {
		return func(t *testing.T) func() clusterDB {
			path := filepath.Join(t.TempDir(), "tack.db")
			return func() clusterDB {
				db, err := sqlite.Open(context.Background(), path)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				return db
			}
		}
	}},
}

// cluster is the shared parts: a bucket prefix of one MinIO and a store.
type cluster struct {
	t      *testing.T
	srv    *miniotest.Server
	prefix string
	open   func() clusterDB
	db     clusterDB // a handle of the test's own, for pins and checks
	acct   *tack.Account
	peer   *testpeer.Peer
}

var clusterPrefixes atomic.Int64

func newCluster(t *testing.T, srv *miniotest.Server, peer *testpeer.Peer, open func() clusterDB) *cluster {
	c := &cluster{t: t, srv: srv, prefix: fmt.Sprintf("c%d/", clusterPrefixes.Add(1)), open: open, peer: peer}
	c.db = open()
	c.acct = storetest.MustCreateAccount(t, c.db, "gc@example.com")
	return c
}

// node is one tack node of the cluster.
type node struct {
	t      *testing.T
	id     string
	db     clusterDB
	bs     *s3.Store
	cache  *blockstore.Cache
	guard  *gc.Guard
	member *tackcluster.Member // the node's heartbeat, as `tack serve` runs it
}

// node starts a node, saved in the store as alive.
func (c *cluster) node(id string, joinTimeout time.Duration) *node {
	return c.nodeWith(id, joinTimeout, nodeOptions{})
}

// nodeOptions make a node of the cluster other than the default.
type nodeOptions struct {
	wrap  func(gc.ClusterStore) gc.ClusterStore // if not nil, how the node sees the store's collections
	sweep time.Duration                         // the least time a batch of its sweeps takes
	lease time.Duration                         // its collections' lease; 0 is 3s
}

// nodeWith starts a node as o says.
func (c *cluster) nodeWith(id string, joinTimeout time.Duration, o nodeOptions) *node {
	t := c.t
	db := c.open()
	var index blockstore.PackIndex = db
	if o.sweep > 0 {
		index = &slowSweep{clusterDB: db, delay: o.sweep}
	}
	var cs gc.ClusterStore = db
	if o.wrap != nil {
		cs = o.wrap(db)
	}
	if o.lease == 0 {
		o.lease = 3 * time.Second
	}
	cache, err := blockstore.OpenCache(filepath.Join(t.TempDir(), "cache"), 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := s3.Open(context.Background(), s3.Options{
		Endpoint:   c.srv.Endpoint,
		Bucket:     "tack",
		Prefix:     c.prefix,
		AccessKey:  c.srv.AccessKey,
		SecretKey:  c.srv.SecretKey,
		Index:      index,
		Cache:      cache,
		FlushAfter: time.Hour, // packs reach the bucket on Sync only
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := bs.Close(); err != nil {
			t.Error(err)
		}
	})
	guard, err := gc.NewGuard(bs, db)
	if err != nil {
		t.Fatal(err)
	}
	guard.SetCluster(gc.Cluster{Store: cs, Node: id, Blocks: blocksAt,
		Live: time.Minute, Lease: o.lease, JoinTimeout: joinTimeout})
	n := newNode(t, id, db, cs, bs, guard)
	n.cache = cache
	return n
}

// newNode returns the node id over its blockstore and guard, whose
// member saves it in cs, and saves it as alive.
func newNode(t *testing.T, id string, db clusterDB, cs gc.ClusterStore, bs *s3.Store, guard *gc.Guard) *node {
	self := tack.Node{ID: id, Blocks: blocksAt, Started: time.Now()}
	n := &node{t: t, id: id, db: db, bs: bs, guard: guard,
		member: tackcluster.New(cs, guard, self, func() []string { return nil }, true)}
	n.save()
	return n
}

// save runs one heartbeat of the node: it saves itself, follows the
// collection another node runs, and saves itself again at once if it
// joined one.
func (n *node) save() {
	if err := n.member.Save(context.Background()); err != nil {
		n.t.Fatal(err)
	}
}

// follow runs heartbeats every few milliseconds until the returned
// function is called, which runs a last one: once the collection is over,
// the node has left it.
func (n *node) follow() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if err := n.member.Save(ctx); err != nil && ctx.Err() == nil {
				n.t.Logf("%s: heartbeat: %v", n.id, err) // as Member.Run does
			}
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() {
		cancel()
		<-done
		if err := n.member.Save(context.Background()); err != nil {
			n.t.Errorf("%s: heartbeat: %v", n.id, err)
		}
	}
}

func (n *node) collect() (gc.Report, error) {
	rep, err := n.guard.Collect(context.Background(), n.db)
	if err == nil {
		n.t.Logf("%s: collect: %s", n.id, rep)
	}
	return rep, err
}

func (n *node) sync() {
	if err := n.bs.Sync(context.Background()); err != nil {
		n.t.Fatal(err)
	}
}

// store puts the blocks through a session of the node and makes them
// durable; the session is returned open. A heartbeat comes first, as one
// does every few seconds in `tack serve`: a node that has gone without
// one for longer than Live fences its sessions (gc.ErrFenced), and the
// collector of a long test follows nobody between its collections.
func (n *node) store(bs []blocks.Block) *gc.Session {
	n.save()
	s := n.guard.Session()
	if err := s.PutMany(context.Background(), bs); err != nil {
		n.t.Fatal(err)
	}
	n.sync()
	return s
}

// dag returns the blocks of a new DAG made on the peer.
func (c *cluster) dag(size, chunk int) (cid.Cid, []blocks.Block) {
	root := c.peer.AddFile(c.t, size, chunk, 1)
	cs, err := testpeer.AllCIDs(context.Background(), c.peer.Blockstore(), root)
	if err != nil {
		c.t.Fatal(err)
	}
	var bs []blocks.Block
	for _, id := range cs {
		b, err := c.peer.Blockstore().Get(context.Background(), id)
		if err != nil {
			c.t.Fatal(err)
		}
		bs = append(bs, b)
	}
	return root, bs
}

// rawBlocks returns n random raw blocks, garbage nobody pins.
func rawBlocks(t *testing.T, n int) []blocks.Block {
	out := make([]blocks.Block, n)
	for i := range out {
		data := make([]byte, 100+rand.IntN(900))
		for j := range data {
			data[j] = byte(rand.Uint32())
		}
		h, err := mh.Sum(data, mh.SHA2_256, -1)
		if err != nil {
			t.Fatal(err)
		}
		b, err := blocks.NewBlockWithCid(data, cid.NewCidV1(cid.Raw, h))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

// pin records root as pinned and held whole, as the pinner does once the
// DAG is fetched.
func (c *cluster) pin(root cid.Cid) *tack.PinRequest {
	ctx := context.Background()
	r := &tack.PinRequest{AccountID: c.acct.ID, Pin: tack.Pin{CID: root.String()}, Key: tack.ContentKey(root)}
	if err := c.db.CreatePin(ctx, r); err != nil {
		c.t.Fatal(err)
	}
	if err := c.db.CompleteDAG(ctx, &tack.DAG{Key: r.Key, Blocks: 1, Bytes: 1}); err != nil {
		c.t.Fatal(err)
	}
	return r
}

// upload records a queued request for root, as an upload of part of its
// DAG makes, and keeps the session's blocks for it, as the upload does.
func (c *cluster) upload(s *gc.Session, root cid.Cid) {
	ctx := context.Background()
	r := &tack.PinRequest{AccountID: c.acct.ID, Pin: tack.Pin{CID: root.String()}, Key: tack.ContentKey(root)}
	if err := c.db.CreatePin(ctx, r); err != nil {
		c.t.Fatal(err)
	}
	if err := s.Keep(ctx, c.acct.ID, r.Key); err != nil {
		c.t.Fatal(err)
	}
}

// indexed tells whether the shared index holds the block.
func (c *cluster) indexed(id cid.Cid) bool {
	_, err := c.db.Lookup(context.Background(), id.Hash())
	if errors.Is(err, blockstore.ErrNoBlock) {
		return false
	} else if err != nil {
		c.t.Fatal(err)
	}
	return true
}

// held counts the blocks of bs the index holds.
func (c *cluster) held(bs []blocks.Block) int {
	n := 0
	for _, b := range bs {
		if c.indexed(b.Cid()) {
			n++
		}
	}
	return n
}

// readable fails the test unless every block of bs is in the index and
// reads back whole through a fresh store (no cache) over the bucket.
func (c *cluster) readable(what string, bs []blocks.Block) {
	c.t.Helper()
	fresh, err := s3.Open(context.Background(), s3.Options{Endpoint: c.srv.Endpoint, Bucket: "tack", Prefix: c.prefix,
		AccessKey: c.srv.AccessKey, SecretKey: c.srv.SecretKey, Index: c.db})
	if err != nil {
		c.t.Fatal(err)
	}
	defer fresh.Close()
	missing := 0
	for _, b := range bs {
		got, err := fresh.Get(context.Background(), b.Cid())
		if err != nil {
			missing++
			if missing <= 3 {
				c.t.Errorf("%s: block %s: %v", what, b.Cid(), err)
			}
			continue
		}
		if string(got.RawData()) != string(b.RawData()) {
			c.t.Errorf("%s: block %s reads back different", what, b.Cid())
		}
	}
	if missing > 0 {
		c.t.Errorf("%s: %d of %d blocks missing", what, missing, len(bs))
	}
}

func TestCluster(t *testing.T) {
	srv := miniotest.Start(t)
	peer := testpeer.New(t)
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			open := be.prepare(t)
			for _, sc := range []struct {
				name string
				test func(*testing.T, *cluster)
			}{
				{"OpenSession", testOpenSession},
				{"FoundDuringSweep", testFoundDuringSweep},
				{"Straggler", testStraggler},
				{"Busy", testBusy},
				{"CacheDropped", testCacheDropped},
				{"PendingAtJoin", testPendingAtJoin},
				{"LeaseRunsOut", testLeaseRunsOut},
				{"JoinRetried", testJoinRetried},
			} {
				t.Run(sc.name, func(t *testing.T) { sc.test(t, newCluster(t, srv, peer, open(t))) })
			}
		})
	}
}

// testOpenSession: what the other node's open sessions and keep lists
// hold survives a collection, whether stored before it joined or while
// the collection runs; garbage does not.
func testOpenSession(t *testing.T, c *cluster) {
	a, b := c.node("a", 10*time.Second), c.node("b", 10*time.Second)
	ctx := context.Background()

	pinned, pinnedBlocks := c.dag(256<<10, 4<<10)
	a.store(pinnedBlocks).Close()
	c.pin(pinned)
	garbage := rawBlocks(t, 300)
	a.store(garbage).Close()

	// B fetches a DAG that the store does not record yet: its session is
	// open, its blocks synced to the bucket.
	_, fetching := c.dag(256<<10, 4<<10)
	s := b.store(fetching)
	defer s.Close()
	// And B uploaded the shards of a DAG not complete yet, all but its
	// root, so that only the keep list, not the DAG's request, names
	// them: kept.
	shardRoot, shard := c.dag(64<<10, 4<<10)
	shard = shard[1:]
	up := b.store(shard)
	c.upload(up, shardRoot)
	up.Close()
	// And B reads blocks of an old DAG, unpinned, in a session still open.
	_, old := c.dag(64<<10, 4<<10)
	a.store(old).Close()
	r := b.guard.Session()
	defer r.Close()
	for _, blk := range old {
		if ok, err := r.Has(ctx, blk.Cid()); err != nil || !ok {
			t.Fatalf("Has(%s) = %v, %v before any collection", blk.Cid(), ok, err)
		}
	}

	// While A collects, B's session goes on storing blocks.
	stop := b.follow()
	written := make(chan []blocks.Block)
	quit := make(chan struct{})
	go func() {
		var all []blocks.Block
		defer func() { written <- all }()
		for {
			select {
			case <-quit:
				return
			default:
			}
			bs := rawBlocks(t, 5)
			if err := s.PutMany(ctx, bs); err != nil {
				t.Error(err)
				return
			}
			if err := b.bs.Sync(ctx); err != nil {
				t.Error(err)
				return
			}
			all = append(all, bs...)
		}
	}()
	rep, err := a.collect()
	close(quit)
	during := <-written
	stop()
	if err != nil {
		t.Fatal(err)
	}
	if b.guard.Joined() != 0 {
		t.Errorf("B still joined after the collection")
	}
	t.Logf("B stored %d blocks during the collection", len(during))
	c.readable("pinned DAG", pinnedBlocks)
	c.readable("DAG B's open session fetched", fetching)
	c.readable("blocks B's open session stored during the collection", during)
	c.readable("shards B keeps", shard)
	c.readable("old DAG B's open session reads", old)
	if n := c.held(garbage); n != 0 || rep.Freed != len(garbage) {
		t.Errorf("garbage: %d of %d blocks left, %d freed", n, len(garbage), rep.Freed)
	}
}

// testFoundDuringSweep races B's sessions finding the blocks of an old,
// unpinned DAG against A's sweep deleting them: a block B's Has or Get
// found survives the collection; one deleted first is not found.
func testFoundDuringSweep(t *testing.T, c *cluster) {
	// A's sweep takes 30ms a batch at least, a few hundred milliseconds
	// for 800 blocks, so that B's sessions race it in most rounds, on
	// SQLite too, whose sweep alone is over in a few tens. And its lease
	// is 10s: SQLite's writers take its lock in no order, and B's
	// sessions, touching in a loop, can keep A's renewals waiting for
	// over a second on a loaded machine, which stopped A's sweep with
	// "the lease runs out" (it did before this test had a lease of its
	// own, in about one run of two on a busy 2-core machine).
	a := c.nodeWith("a", 10*time.Second, nodeOptions{sweep: 30 * time.Millisecond, lease: 10 * time.Second})
	b := c.node("b", 10*time.Second)
	ctx := context.Background()
	pinned, pinnedBlocks := c.dag(64<<10, 4<<10)
	a.store(pinnedBlocks).Close()
	c.pin(pinned)

	var raced int
	for round := 0; round < 8; round++ {
		old := rawBlocks(t, 800)
		a.store(old).Close()
		if round%2 == 1 {
			// B's cache holds them: its Get finds them there.
			for _, blk := range old {
				if _, err := b.bs.Get(ctx, blk.Cid()); err != nil {
					t.Fatal(err)
				}
			}
		}
		stop := b.follow()
		var found sync.Map // cid -> true once a Has or Get found it
		quit := make(chan struct{})
		var wg sync.WaitGroup
		// A sweeps about 200ms after B joined (its second look at the node
		// list): in even rounds B's sessions begin looking some time
		// around then; in odd rounds, once the sweep has deleted the
		// first block of its order (multihash order), and they look at
		// the blocks of its last batches.
		delay := time.Duration(120+rand.IntN(140)) * time.Millisecond
		look := old
		sorted := slices.SortedFunc(slices.Values(old), func(x, y blocks.Block) int {
			return bytes.Compare(x.Cid().Hash(), y.Cid().Hash())
		})
		if round%2 == 1 {
			delay = 0
			look = sorted[len(sorted)/2:]
		}
		sweeping := make(chan struct{})
		go func() {
			defer close(sweeping)
			if round%2 == 0 {
				return
			}
			for c.indexed(sorted[0].Cid()) {
				select {
				case <-quit:
					return
				default:
				}
			}
		}()
		for w := 0; w < 2; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := b.guard.Session()
				defer s.Close()
				for b.guard.Joined() == 0 {
					time.Sleep(time.Millisecond)
				}
				time.Sleep(delay)
				<-sweeping
				for {
					select {
					case <-quit:
						return
					default:
					}
					blk := look[rand.IntN(len(look))]
					if _, ok := found.Load(blk.Cid()); ok {
						continue
					}
					var ok bool
					if w == 0 {
						var err error
						if ok, err = s.Has(ctx, blk.Cid()); err != nil {
							t.Error(err)
							return
						}
					} else {
						got, err := s.Get(ctx, blk.Cid())
						if err == nil && string(got.RawData()) != string(blk.RawData()) {
							t.Errorf("Get(%s): wrong data", blk.Cid())
						}
						if err != nil && !ipld.IsNotFound(err) {
							t.Error(err)
							return
						}
						ok = err == nil
					}
					if ok {
						found.Store(blk.Cid(), true)
					}
				}
			}()
		}
		// And B reads them outside of any session (as the gateway
		// does), filling its cache, up to and past leaving.
		readerDone := make(chan struct{})
		go func() {
			defer close(readerDone)
			for {
				select {
				case <-quit:
					return
				default:
				}
				blk := old[rand.IntN(len(old))]
				if _, err := b.bs.Get(ctx, blk.Cid()); err != nil && !ipld.IsNotFound(err) {
					t.Error(err)
					return
				}
			}
		}()
		rep, err := a.collect()
		// The sessions are still open: what they found is theirs. The
		// workers stop before any verdict, even a failed collection's:
		// a t.Fatal while they read would close the blockstores under
		// them and crash the test binary ("pebble: closed"), hiding why.
		stop()
		close(quit)
		wg.Wait()
		<-readerDone
		if err != nil {
			t.Fatal(err)
		}
		cached := 0
		for _, blk := range old {
			if _, ok := b.cache.Get(ctx, blk.Cid()); ok && !c.indexed(blk.Cid()) {
				cached++
			}
		}
		if cached > 0 {
			t.Errorf("round %d: %d deleted blocks in B's cache after it left", round, cached)
		}
		n, lost := 0, 0
		found.Range(func(k, _ any) bool {
			n++
			if !c.indexed(k.(cid.Cid)) {
				lost++
			}
			return true
		})
		if lost > 0 {
			t.Errorf("round %d: %d of the %d blocks B found during the collection were deleted", round, lost, n)
		}
		left := c.held(old)
		if left < n {
			t.Errorf("round %d: %d blocks left, B found %d", round, left, n)
		}
		if n > 0 && rep.Freed > 0 {
			raced++
		}
		t.Logf("round %d: B began after %s and found %d of %d old blocks; %d freed", round, delay, n, len(old), rep.Freed)
		// The next collection frees them: no session holds them now.
		stop = b.follow()
		_, err = a.collect()
		stop()
		if err != nil {
			t.Fatal(err)
		}
		if left := c.held(old); left != 0 {
			t.Errorf("round %d: %d old blocks left after a second collection", round, left)
		}
	}
	t.Logf("%d rounds of 8 where B found some blocks and A freed others", raced)
	if raced == 0 {
		t.Errorf("in no round did B find some blocks while A freed others: nothing raced, and the test proves nothing")
	}
	c.readable("pinned DAG", pinnedBlocks)
}

// testStraggler: a live node that never joins makes the collection fail
// after JoinTimeout, and nothing is deleted; a node of other blocks, or
// not seen for Live, is not waited for.
func testStraggler(t *testing.T, c *cluster) {
	a, b := c.node("a", time.Second), c.node("b", time.Second)
	ctx := context.Background()
	garbage := rawBlocks(t, 50)
	a.store(garbage).Close()
	if err := c.db.SaveNode(ctx, &tack.Node{ID: "elsewhere", Blocks: "local"}); err != nil {
		t.Fatal(err)
	}
	if err := c.db.SaveNode(ctx, &tack.Node{ID: "straggler", Blocks: blocksAt}); err != nil {
		t.Fatal(err)
	}
	stop := b.follow()
	start := time.Now()
	_, err := a.collect()
	stop()
	if err == nil {
		t.Fatal("a collection went ahead though a live node never joined")
	}
	t.Logf("collect: %v after %s", err, time.Since(start))
	if time.Since(start) < time.Second {
		t.Errorf("the collection gave up after %s, before its JoinTimeout", time.Since(start))
	}
	if n := c.held(garbage); n != len(garbage) {
		t.Errorf("%d of %d blocks left by a collection that failed", n, len(garbage))
	}
	if col, err := c.db.RunningCollection(ctx, time.Now()); err != nil || col != nil {
		t.Errorf("running collection after the failure: %+v, %v", col, err)
	}
	if b.guard.Joined() != 0 {
		t.Errorf("B still joined after the failed collection")
	}
	// Once the straggler is gone from the node list, the collection runs.
	if err := c.db.DeleteNode(ctx, "straggler"); err != nil {
		t.Fatal(err)
	}
	stop = b.follow()
	rep, err := a.collect()
	stop()
	if err != nil {
		t.Fatal(err)
	}
	if rep.Freed != len(garbage) {
		t.Errorf("freed %d, want %d", rep.Freed, len(garbage))
	}
}

// testBusy: while one node collects, another's collection fails with
// ErrBusy and deletes nothing.
func testBusy(t *testing.T, c *cluster) {
	a, b := c.node("a", 2*time.Second), c.node("b", 2*time.Second)
	ctx := context.Background()
	garbage := rawBlocks(t, 50)
	a.store(garbage).Close()
	// B never joins: A waits for it until its JoinTimeout.
	done := make(chan error)
	go func() {
		_, err := a.collect()
		done <- err
	}()
	for {
		col, err := c.db.RunningCollection(ctx, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if col != nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := b.collect(); !errors.Is(err, gc.ErrBusy) {
		t.Errorf("collect while another node collects: %v, want ErrBusy", err)
	}
	if err := <-done; err == nil {
		t.Errorf("A collected though B never joined")
	}
	if n := c.held(garbage); n != len(garbage) {
		t.Errorf("%d of %d blocks left", n, len(garbage))
	}
	// Now B collects, A following.
	stop := a.follow()
	rep, err := b.collect()
	stop()
	if err != nil {
		t.Fatal(err)
	}
	if rep.Freed != len(garbage) {
		t.Errorf("freed %d, want %d", rep.Freed, len(garbage))
	}
}

// testCacheDropped: blocks in B's cache that A's collection deleted are
// not found on B once the collection is over, through a session or not.
func testCacheDropped(t *testing.T, c *cluster) {
	a, b := c.node("a", 10*time.Second), c.node("b", 10*time.Second)
	ctx := context.Background()
	garbage := rawBlocks(t, 100)
	a.store(garbage).Close()
	// B stores some itself (its cache is filled on write), and reads the
	// others (filled on read).
	mine := rawBlocks(t, 100)
	b.store(mine).Close()
	for _, blk := range garbage {
		if _, err := b.bs.Get(ctx, blk.Cid()); err != nil {
			t.Fatal(err)
		}
	}
	all := append(append([]blocks.Block(nil), garbage...), mine...)
	for _, blk := range all {
		// Written blocks reach the cache in the background.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			if _, ok := b.cache.Get(ctx, blk.Cid()); ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("block %s not in B's cache before the collection", blk.Cid())
			}
		}
	}
	stop := b.follow()
	rep, err := a.collect()
	if err != nil {
		t.Fatal(err)
	}
	if rep.Freed != len(all) {
		t.Errorf("freed %d, want %d", rep.Freed, len(all))
	}
	// Still joined, B's sessions check what its cache holds.
	if b.guard.Joined() != 0 {
		s := b.guard.Session()
		for _, blk := range all[:10] {
			if _, err := s.Get(ctx, blk.Cid()); !ipld.IsNotFound(err) {
				t.Errorf("Get on B, joined, of a deleted block: %v, want not found", err)
			}
		}
		s.Close()
	}
	stop()
	if b.guard.Joined() != 0 {
		t.Fatal("B still joined after the collection")
	}
	s := b.guard.Session()
	defer s.Close()
	for _, blk := range all {
		if _, ok := b.cache.Get(ctx, blk.Cid()); ok {
			t.Errorf("deleted block %s still in B's cache", blk.Cid())
		}
		if _, err := b.bs.Get(ctx, blk.Cid()); !ipld.IsNotFound(err) {
			t.Errorf("Get on B of a deleted block: %v, want not found", err)
		}
		if _, err := s.Get(ctx, blk.Cid()); !ipld.IsNotFound(err) {
			t.Errorf("Get on B's session of a deleted block: %v, want not found", err)
		}
		if ok, err := s.Has(ctx, blk.Cid()); ok || err != nil {
			t.Errorf("Has on B's session of a deleted block: %v, %v", ok, err)
		}
	}
}

// slowIndex is the shared index, whose AddPack, once hold is set, waits
// after recording a pack until release is closed: the writing node's
// blocks are then in the index but not yet known there by the node.
type slowIndex struct {
	clusterDB
	hold     atomic.Bool
	recorded chan struct{}
	release  chan struct{}
}

func (x *slowIndex) AddPack(ctx context.Context, p blockstore.Pack, entries []blockstore.PackMove) error {
	err := x.clusterDB.AddPack(ctx, p, entries)
	if err == nil && x.hold.CompareAndSwap(true, false) {
		close(x.recorded)
		<-x.release
	}
	return err
}

// testPendingAtJoin: B's pack is recorded in the index before A's
// collection begins, but B has not yet taken note that it is; a session
// of B that finds one of its blocks after joining holds it.
func testPendingAtJoin(t *testing.T, c *cluster) {
	ctx := context.Background()
	a := c.node("a", 10*time.Second)
	slow := &slowIndex{clusterDB: c.open(), recorded: make(chan struct{}), release: make(chan struct{})}
	bs, err := s3.Open(ctx, s3.Options{Endpoint: c.srv.Endpoint, Bucket: "tack", Prefix: c.prefix,
		AccessKey: c.srv.AccessKey, SecretKey: c.srv.SecretKey, Index: slow, FlushAfter: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Close()
	guard, err := gc.NewGuard(bs, slow)
	if err != nil {
		t.Fatal(err)
	}
	guard.SetCluster(gc.Cluster{Store: slow, Node: "b", Blocks: blocksAt, Live: time.Minute, Lease: 3 * time.Second, JoinTimeout: 10 * time.Second})
	b := newNode(t, "b", slow, slow, bs, guard)

	// B stores blocks no pin needs, and closes the session; their pack
	// is recorded, and B's Sync has not returned.
	old := rawBlocks(t, 50)
	w := guard.Session()
	if err := w.PutMany(ctx, old); err != nil {
		t.Fatal(err)
	}
	w.Close()
	slow.hold.Store(true)
	synced := make(chan error)
	go func() { synced <- bs.Sync(ctx) }()
	<-slow.recorded

	stop := b.follow()
	done := make(chan error)
	go func() {
		_, err := a.collect()
		done <- err
	}()
	for guard.Joined() == 0 {
		time.Sleep(time.Millisecond)
	}
	// B's session finds the blocks after joining.
	s := guard.Session()
	defer s.Close()
	found := make(chan []cid.Cid)
	go func() {
		var out []cid.Cid
		for _, blk := range old {
			ok, err := s.Has(ctx, blk.Cid())
			if err != nil {
				t.Error(err)
			}
			if ok {
				out = append(out, blk.Cid())
			}
		}
		found <- out
	}()
	time.Sleep(50 * time.Millisecond)
	close(slow.release)
	got := <-found
	if err := <-synced; err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	stop()
	lost := 0
	for _, id := range got {
		if !c.indexed(id) {
			lost++
		}
	}
	t.Logf("B found %d of %d blocks", len(got), len(old))
	if lost > 0 {
		t.Errorf("%d of the %d blocks B's session found after joining were deleted", lost, len(got))
	}
}

// hungRenewal is the store as a collector sees it when its renewals hang
// (a connection gone silent, a paused process): RenewCollection waits
// until the test ends.
type hungRenewal struct {
	gc.ClusterStore
	hang chan struct{}
}

func (h *hungRenewal) RenewCollection(ctx context.Context, node string, epoch int64, until time.Time) error {
	select {
	case <-h.hang:
	case <-ctx.Done():
	}
	return errors.New("renewal hung")
}

// slowSweep is the index with a DeleteUnchanged that takes its time. If
// sweeping is not nil, it is closed when the first DeleteUnchanged begins.
type slowSweep struct {
	clusterDB
	delay    time.Duration
	sweeping chan struct{}
	once     sync.Once
}

func (x *slowSweep) DeleteUnchanged(ctx context.Context, hs [][]byte, seq int64) (int, int64, error) {
	if x.sweeping != nil {
		x.once.Do(func() { close(x.sweeping) })
	}
	time.Sleep(x.delay)
	return x.clusterDB.DeleteUnchanged(ctx, hs, seq)
}

// testLeaseRunsOut: a collector whose lease ran out, which the other
// nodes take for the end of the collection and stop touching, deletes no
// more, even though it could not learn from the store that its lease is
// lost.
func testLeaseRunsOut(t *testing.T, c *cluster) {
	ctx := context.Background()
	b := c.node("b", 10*time.Second)
	db := c.open()
	index := &slowSweep{clusterDB: db, delay: 250 * time.Millisecond}
	bs, err := s3.Open(ctx, s3.Options{Endpoint: c.srv.Endpoint, Bucket: "tack", Prefix: c.prefix,
		AccessKey: c.srv.AccessKey, SecretKey: c.srv.SecretKey, Index: index, FlushAfter: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Close()
	guard, err := gc.NewGuard(bs, index)
	if err != nil {
		t.Fatal(err)
	}
	hung := &hungRenewal{ClusterStore: db, hang: make(chan struct{})}
	defer close(hung.hang)
	guard.SetCluster(gc.Cluster{Store: hung, Node: "a", Blocks: blocksAt, Live: time.Minute, Lease: 900 * time.Millisecond, JoinTimeout: 10 * time.Second})
	a := newNode(t, "a", db, db, bs, guard)

	old := rawBlocks(t, 1200) // 10 batches: 2.5s of sweep
	a.store(old).Close()

	stop := b.follow()
	defer stop()
	done := make(chan error)
	go func() {
		_, err := a.collect()
		done <- err
	}()
	for b.guard.Joined() == 0 {
		time.Sleep(time.Millisecond)
	}
	// Once B has left (the lease ran out), its session finds blocks
	// without touching them.
	for b.guard.Joined() != 0 {
		time.Sleep(time.Millisecond)
	}
	s := b.guard.Session()
	defer s.Close()
	var found []cid.Cid
	for _, blk := range old {
		if ok, err := s.Has(ctx, blk.Cid()); err != nil {
			t.Fatal(err)
		} else if ok {
			found = append(found, blk.Cid())
		}
	}
	err = <-done
	t.Logf("collect: %v; B found %d of %d blocks after leaving", err, len(found), len(old))
	if err == nil {
		t.Errorf("the collection went on to the end though its lease ran out")
	}
	lost := 0
	for _, id := range found {
		if !c.indexed(id) {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of the %d blocks B's session found after its lease ran out were deleted", lost, len(found))
	}
}

// failingKeep is the store, whose KeepForCollection fails the first time.
type failingKeep struct {
	gc.ClusterStore
	failed atomic.Bool
}

func (f *failingKeep) KeepForCollection(ctx context.Context, epoch int64, keys []uint64) error {
	if f.failed.CompareAndSwap(false, true) {
		return errors.New("connection reset")
	}
	return f.ClusterStore.KeepForCollection(ctx, epoch, keys)
}

// testJoinRetried: a node whose hand-over of its blocks failed joins at
// its next heartbeat, handing them over then.
func testJoinRetried(t *testing.T, c *cluster) {
	a := c.node("a", 5*time.Second)
	b := c.nodeWith("b", 5*time.Second, nodeOptions{wrap: func(cs gc.ClusterStore) gc.ClusterStore { return &failingKeep{ClusterStore: cs} }})
	_, fetching := c.dag(64<<10, 4<<10)
	s := b.store(fetching)
	defer s.Close()
	garbage := rawBlocks(t, 20)
	a.store(garbage).Close()
	stop := b.follow()
	rep, err := a.collect()
	stop()
	if err != nil {
		t.Fatal(err)
	}
	c.readable("DAG B's open session fetched", fetching)
	if rep.Freed != len(garbage) {
		t.Errorf("freed %d, want %d", rep.Freed, len(garbage))
	}
}

// TestClusterLateJoiner: a node that was gone (not seen for Live) or is
// new, and starts while another node's collection sweeps, joins after the
// collector marked. What its uploads kept is in the store, where the mark
// read it, so nothing of it is lost; and the collector stops at its next
// batch once it sees the new node.
func TestClusterLateJoiner(t *testing.T) {
	srv := miniotest.Start(t)
	peer := testpeer.New(t)
	c := newCluster(t, srv, peer, backends[1].prepare(t)(t))
	ctx := context.Background()
	late := c.node("late", 10*time.Second)
	shardRoot, shard := c.dag(64<<10, 4<<10)
	shard = shard[1:] // all but the root: only the keep list names them
	up := late.store(shard)
	c.upload(up, shardRoot)
	up.Close()
	if err := c.db.DeleteNode(ctx, "late"); err != nil { // gone for now
		t.Fatal(err)
	}

	db := c.open()
	sweeping := make(chan struct{})
	bs, err := s3.Open(ctx, s3.Options{Endpoint: c.srv.Endpoint, Bucket: "tack", Prefix: c.prefix,
		AccessKey: c.srv.AccessKey, SecretKey: c.srv.SecretKey, Index: &slowSweep{clusterDB: db, delay: 200 * time.Millisecond, sweeping: sweeping}, FlushAfter: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Close()
	guard, err := gc.NewGuard(bs, db)
	if err != nil {
		t.Fatal(err)
	}
	guard.SetCluster(gc.Cluster{Store: db, Node: "a", Blocks: blocksAt, Live: time.Minute, Lease: 10 * time.Second, JoinTimeout: 10 * time.Second})
	a := newNode(t, "a", db, db, bs, guard)
	a.store(rawBlocks(t, 1000)).Close()

	done := make(chan error)
	go func() {
		_, err := a.collect()
		done <- err
	}()
	// A sweeps, its mark made without the late node, which appears now:
	// 1,000 blocks are several batches, each 200ms long.
	select {
	case <-sweeping:
	case err := <-done:
		t.Fatalf("the collection ended before it swept: %v", err)
	}
	late.save()
	stop := late.follow()
	err = <-done
	stop()
	t.Logf("collect: %v", err)
	if err == nil || !strings.Contains(err.Error(), "node late appeared during collection") {
		t.Errorf("collect: %v, want it stopped at its next batch by the node that appeared", err)
	}
	c.readable("shards the late node keeps", shard)
}

// A node out of touch with the store for longer than the node lease (a
// long pause, a partition) may have missed a collection that deleted what
// its open sessions found stored: those sessions refuse to go on, so their
// fetches and uploads start again; new sessions work.
func TestClusterFenced(t *testing.T) {
	srv := miniotest.Start(t)
	peer := testpeer.New(t)
	c := newCluster(t, srv, peer, backends[1].prepare(t)(t))
	ctx := context.Background()
	b := c.node("b", 10*time.Second)
	_, dag := c.dag(64<<10, 4<<10)
	open := b.store(dag[:2])
	defer open.Close()
	if ok, err := open.Has(ctx, dag[0].Cid()); !ok || err != nil {
		t.Fatalf("Has before the gap = %v, %v", ok, err)
	}

	// The heartbeat has not run yet after the gap: the session sees it.
	b.guard.Alive(time.Now().Add(-2 * time.Minute))
	if _, err := open.Has(ctx, dag[0].Cid()); !errors.Is(err, gc.ErrFenced) {
		t.Fatalf("Has after a gap the heartbeat has not seen: %v, want ErrFenced", err)
	}
	// The next save succeeds: the session stays fenced, a new one works.
	b.guard.Alive(time.Now())
	if err := open.PutMany(ctx, dag[2:3]); !errors.Is(err, gc.ErrFenced) {
		t.Fatalf("PutMany after the gap: %v, want ErrFenced", err)
	}
	fresh := b.guard.Session()
	defer fresh.Close()
	if ok, err := fresh.Has(ctx, dag[0].Cid()); !ok || err != nil {
		t.Fatalf("a new session's Has = %v, %v", ok, err)
	}

	// The heartbeat notices a gap itself: every session open then is
	// fenced.
	b.guard.Alive(time.Now().Add(2 * time.Minute))
	if _, err := fresh.Get(ctx, dag[0].Cid()); !errors.Is(err, gc.ErrFenced) {
		t.Fatalf("Get after the heartbeat saw a gap: %v, want ErrFenced", err)
	}
}
