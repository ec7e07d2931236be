package pinner

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/exchange"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/dag"
)

// Progress counts what a walk has stored so far. It is safe to read while
// the walk runs.
type Progress struct {
	Blocks atomic.Int64
	Bytes  atomic.Int64
	last   atomic.Int64 // unix nanoseconds of the last block received or found
	net    atomic.Int64 // unix nanoseconds of the last block received from the network
}

// LastBlock returns when the walk last received or found a block.
func (p *Progress) LastBlock() time.Time { return time.Unix(0, p.last.Load()) }

// Received returns when the walk last received a block from the network,
// or the zero time if it received none.
func (p *Progress) Received() time.Time {
	if n := p.net.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

func (p *Progress) add(b blocks.Block) {
	p.Blocks.Add(1)
	p.Bytes.Add(int64(len(b.RawData())))
	p.last.Store(time.Now().UnixNano())
}

// Walker fetches whole DAGs into a blockstore.
type Walker struct {
	// Blockstore receives the blocks. Walk checks Has (through Get) before
	// it asks the network for a block, so a blockstore opened with
	// blockstore.WriteThrough saves a second check per block.
	Blockstore blockstore.Blockstore
	// Window is how many blocks one walk may want from the network at once.
	Window int
	// WindowBytes bounds the same in bytes, estimated from the blocks the
	// walk has received so far (default 8 MiB): a DAG of big blocks keeps
	// fewer wanted. A provider's bitswap server sends a peer about 1 MiB at
	// a time however many blocks it is asked for, so a deeper queue only
	// makes the wants wait there longer, and the wants sent to the busier
	// of two providers wait there while the other runs dry: from two
	// providers behind far links (BenchmarkFarLink in cmd/tack), a window
	// of 512 blocks of 256 KiB had one provider send 259 blocks of 260;
	// with 8 MiB (32 such blocks) a provider, they sent 100-160 each, and
	// 64 MiB came 1.54-1.61x faster than from one.
	WindowBytes int
	// Sessions is how many bitswap sessions the walk spreads its wants
	// over (default 1). A session sends each want-block to one peer,
	// picked at random with weights that grow with the blocks the peer
	// delivered first, so one session's split between equal providers
	// drifts to a random share (a Pólya urn) and the busier provider
	// holds the rest back. Each new want goes to the session with the
	// fewest in flight, so sessions whose peers deliver sooner get more.
	Sessions int
	// Budget, if not nil, is shared by every walk: a walk wants a block
	// from the network only with a block of the budget, which it gives back
	// when the block arrives. Nil gives each walk a budget of Window.
	Budget *Budget
	// Stall is how long the walk may go without receiving a block before it
	// gives up with a *StallError.
	Stall time.Duration
	// Rewant is how long the walk may go without receiving a block, with
	// blocks wanted, before it asks for them again through a new session
	// (default Stall/4). Bitswap can lose a want for good: see rewant.
	Rewant time.Duration
	// Yield, with Crowded, lets a walk that has received nothing from the
	// network give way sooner: after Yield, if Crowded says that other
	// requests wait for a fetch, it gives up with a *StallError too. A DAG
	// whose provider cannot be found then holds no fetch that content
	// someone has could use.
	Yield   time.Duration
	Crowded func() bool
	// Writers is how many goroutines store blocks (default 4). Storing
	// runs beside the fetch, so that a slow disk never holds up bitswap's
	// receive path: with 2, and a queue of one batch each, the walk's loop
	// waited 0.5-1.0 s of a 2.5 s fetch of 256 MiB on loopback for the
	// writers (BenchmarkLoopback in cmd/tack, under load), and 0.1-0.6 s
	// with 4 and a queue of 4 batches each (queuedBatches).
	Writers int
	// Lookers is how many goroutines look in the blockstore for the blocks
	// the walk reaches (default 4), beside the fetch: a block that is not
	// held costs a failed open(2) of its file, which under a busy disk
	// took 0.6 ms, and done in the walk's loop, 1,031 of them held up a
	// 256 MiB fetch for 0.64 s of its 2.8 s (BenchmarkLoopback in cmd/tack).
	Lookers int
	// HashedByFetcher says that the fetcher derives every block's CID from
	// the block's data, as bitswap does when it decodes a message (and a
	// session only hands out the blocks it was asked for), so that Walk
	// need not hash each block a second time. Leave it false for a fetcher
	// that could return a block under a CID it did not compute.
	HashedByFetcher bool
	// Received, if not nil, counts the blocks received from the network,
	// over every walk that shares it.
	Received *Received
}

// Sessions opens the bitswap sessions a walk fetches through.
type Sessions interface {
	// NewSession returns a session that ends with ctx.
	NewSession(ctx context.Context) exchange.Fetcher
	// Unwanted returns once no session wants any of keys from any peer any
	// more, or when ctx ends.
	Unwanted(ctx context.Context, keys []cid.Cid)
}

// Received counts blocks received from the network and their bytes. It
// is safe for concurrent use.
type Received struct {
	Blocks atomic.Int64
	Bytes  atomic.Int64
	// Rewants counts the blocks asked for again through a new session
	// after bitswap sent none of them for Walker.Rewant.
	Rewants atomic.Int64
}

// StorageError is a failure to store blocks (a full or failing disk), as
// opposed to a fault of the DAG or of the network: the fetch should be
// tried again later rather than failed.
type StorageError struct{ Err error }

func (e StorageError) Error() string { return e.Err.Error() }
func (e StorageError) Unwrap() error { return e.Err }

// StallError ends a walk that received no block for Walker.Stall: no
// peer that has the blocks was found, or the peers that had them left.
// Nothing is wrong with the DAG: the walk can be tried again later.
type StallError struct {
	After  time.Duration // the walker's Stall, or Yield
	Blocks int64         // blocks the walk had stored or found
	// Yielded says that the walk gave way to waiting requests before its
	// Stall.
	Yielded bool
}

func (e *StallError) Error() string {
	if e.Yielded {
		return fmt.Sprintf("no provider found yet: no peer sent a block within %s, and other requests were waiting", e.After)
	}
	if e.Blocks == 0 {
		return fmt.Sprintf("no provider found yet: no peer sent the root block within %s", e.After)
	}
	return fmt.Sprintf("stalled: no peer sent the missing blocks for %s, after %d blocks", e.After, e.Blocks)
}

// minWindow is the fewest blocks a walk wants at once, however big they
// are, and how many it starts with.
const minWindow = 32

// budgetReserve is how many blocks of the shared budget a walk with blocks
// in flight leaves to walks with none.
const budgetReserve = 64

// batchSize is how many blocks go to the blockstore in one PutMany, and
// batchBytes about how many bytes: a batch is stored once either is
// reached.
const (
	batchSize  = 64
	batchBytes = 4 << 20
)

// queuedBatches is how many batches, for each writer, may wait for the
// writers: the walk wants more blocks while its last ones are being
// stored, and waits only when the disk falls that far behind. Together
// with the batches being stored, it bounds the received blocks a walk
// holds in memory at 5 batches a writer.
const queuedBatches = 4

// Walk fetches every block reachable from root that the blockstore does
// not hold yet, through sessions of net, checking each block's hash, codec and size,
// and stores them. Blocks already held are read for their links, so an
// interrupted walk resumes where it stopped. Identity CIDs are read from
// the CID itself, checked and followed like any block, and neither
// fetched nor stored; Progress counts them as blocks of the DAG. A DAG
// deeper than tack.MaxDAGDepth breaks a rule: a path that long is refused
// as soon as the walk finds it, and once every block is there the
// longest path (which the walk, taking each block once, may reach late)
// is measured with a dag.Graph of the links. It returns nil once every
// block of the DAG is in the blockstore, or the first rule the DAG breaks
// as a *tack.Error, a *StallError if no block
// came for Stall, or ctx's error.
//
// A block's links are wanted as soon as the block arrives and checks out;
// it is stored meanwhile by the writers. The order in which blocks reach
// the disk does not matter: a resumed walk starts again from the root,
// and the DAG counts as held only once Walk has returned nil.
func (w *Walker) Walk(ctx context.Context, net Sessions, root cid.Cid, p *Progress) (err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	p.last.Store(time.Now().UnixNano())

	maxWindow := w.Window
	if maxWindow <= 0 {
		maxWindow = 512
	}
	windowBytes := int64(w.WindowBytes)
	if windowBytes <= 0 {
		windowBytes = 8 << 20
	}
	// The window starts small and grows with each block received, as TCP's
	// slow start does, up to what WindowBytes allows at the blocks' recent
	// size: a DAG's first blocks (its root, the inner nodes) are small, and
	// its leaves, wanted before any of them has arrived, may not be. It
	// grows by a 64th of that bound a block, at least one, so a DAG of
	// small blocks reaches its whole window within a round trip or two.
	window := min(minWindow, maxWindow)
	var blockSize int64 // recent received blocks' size, a moving average
	budget := w.Budget
	if budget == nil {
		budget = NewBudget(maxWindow)
	}
	writers := w.Writers
	if writers <= 0 {
		writers = 4
	}
	lookers := w.Lookers
	if lookers <= 0 {
		lookers = 4
	}

	// The writers store batches and count them in p. The first error
	// cancels the walk with itself as the cause.
	store := make(chan []blocks.Block, queuedBatches*writers)
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for batch := range store {
				if ctx.Err() != nil {
					continue // drain: the walk is over
				}
				if err := w.Blockstore.PutMany(ctx, batch); err != nil {
					cancel(StorageError{fmt.Errorf("storing blocks: %w", err)})
					continue
				}
				for _, b := range batch {
					p.add(b)
				}
			}
		}()
	}
	// The lookers read the blocks the walk reaches from the blockstore,
	// if it holds them, and hand the outcome to found. Neither queue ever
	// makes its sender wait: not the walk, which must go on receiving
	// blocks meanwhile, nor a looker.
	lookups, found := newQueue[cid.Cid](), newQueue[lookup]()
	for range lookers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, ok := lookups.pop()
				if !ok {
					return
				}
				b, err := w.Blockstore.Get(ctx, c)
				found.put(lookup{c, b, err})
			}
		}()
	}
	// However the walk ends, the writers and the lookers finish first, so
	// that a failed write is this walk's error, and nothing uses the
	// blockstore after Walk returns. Once the walk is cancelled, whatever
	// noticed first (the session, a send) reports the cause: a writer's
	// StorageError, or the caller's.
	defer func() {
		close(store)
		lookups.close()
		wg.Wait()
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
	}()

	// Every block seen, by multihash: its number in graph, which records
	// the links between them so that the DAG's depth, its longest path,
	// can be measured at the end (dag.Graph), and the depth at which the
	// walk first reached it, which refuses a deep chain as soon as it
	// shows, without fetching the rest.
	var graph dag.Graph
	seen := map[string]int32{string(root.Hash()): graph.Add()}
	depth := []int32{0}
	todo := []cid.Cid{root} // a stack: depth first keeps it small
	// The blocks wanted from the network, by multihash, with the session
	// each was asked through: a block that is not (asked for twice, through
	// two sessions) is dropped.
	pending := map[string]want{}
	inflight := 0 // len(pending), whose blocks of the budget the walk holds
	checking := 0 // blocks with the lookers, which hold blocks of the budget too
	defer func() { budget.give(inflight + checking) }()
	// The walk's sessions, which it replaces when it asks again.
	sessions := newWalkSessions(ctx, net, w.Sessions)
	defer func() { sessions.end() }()
	rewanted := time.Time{} // when the walk last asked again
	// What the sessions deliver, forwarded without waiting (see queue).
	received := newQueue[blocks.Block]()
	var (
		looks   []lookup       // what the loop took from found
		arrived []blocks.Block // what it took from received
		batch   []blocks.Block
		tick    = time.NewTicker(w.tick())
		started = time.Now()
		missing []cid.Cid
	)
	defer tick.Stop()

	// visit queues the unseen links of a block that checked out.
	visit := func(b blocks.Block) error {
		links, err := dag.Links(b)
		if err != nil {
			return tack.Errorf(tack.EINVALID, "block %s cannot be decoded: %v", b.Cid(), err)
		}
		if len(links) == 0 {
			return nil
		}
		node := seen[string(b.Cid().Hash())]
		d := depth[node] + 1
		if d > tack.MaxDAGDepth {
			return tack.TooDeep(root)
		}
		to := make([]int32, len(links))
		for i, l := range links {
			k := string(l.Hash())
			if id, ok := seen[k]; ok {
				to[i] = id
				continue
			}
			to[i] = graph.Add()
			seen[k] = to[i]
			depth = append(depth, d)
			todo = append(todo, l)
		}
		graph.Links(node, to)
		return nil
	}
	var batched int // the bytes of batch
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		select {
		case store <- batch:
			batch = make([]blocks.Block, 0, batchSize)
			batched = 0
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}

	// looked handles what the lookers found: a block held is read for
	// its links and gives back its block of the budget; one that is not is
	// added to missing, to be wanted from the network with it.
	looked := func(r lookup) error {
		checking--
		if r.err != nil {
			// Not held, or not readable: the network has it.
			missing = append(missing, r.c)
			return nil
		}
		budget.give(1)
		p.add(r.b)
		return visit(r.b)
	}
	// got handles a block that a session delivered: one the walk asked
	// for is checked, read for its links and added to batch; a second
	// copy of one (asked for twice) is dropped.
	got := func(b blocks.Block) error {
		k := string(b.Cid().Hash())
		wt, ok := pending[k]
		if !ok {
			return nil
		}
		delete(pending, k)
		wt.session.inflight--
		inflight--
		budget.give(1)
		now := time.Now().UnixNano()
		p.last.Store(now)
		p.net.Store(now)
		if w.Received != nil {
			w.Received.Blocks.Add(1)
			w.Received.Bytes.Add(int64(len(b.RawData())))
		}
		if n := int64(len(b.RawData())); blockSize == 0 {
			blockSize = n
		} else {
			blockSize += (n - blockSize) / 8
		}
		bound := min(int(max(windowBytes/max(blockSize, 1), minWindow)), maxWindow)
		window = min(window+max(bound/64, 1), bound)
		if err := checkBlock(b, !w.HashedByFetcher); err != nil {
			return err
		}
		if err := visit(b); err != nil {
			return err
		}
		batch = append(batch, b)
		batched += len(b.RawData())
		return nil
	}
	for len(todo) > 0 || inflight > 0 || checking > 0 {
		// Look for more while there is room in the window and in the
		// budget. Blocks already held are not fetched again, only read
		// for their links. A walk with nothing in flight waits for the
		// budget: it must make progress, and the wait is not a stall.
		if room := min(window-inflight-checking, len(todo)); room > 0 {
			keep := budgetReserve
			if inflight+checking == 0 {
				keep = 0
			}
			tokens := budget.take(room, keep)
			if tokens == 0 && inflight+checking == 0 {
				if tokens, err = budget.wait(ctx, room); err != nil {
					return err
				}
				p.last.Store(time.Now().UnixNano())
			}
			sent := 0
			for len(todo) > 0 && sent < tokens {
				c := todo[len(todo)-1]
				todo = todo[:len(todo)-1]
				if err := checkCID(c); err != nil {
					budget.give(tokens - sent)
					return err
				}
				if b, ok := dag.Inline(c); ok {
					// An identity CID is its own block: no peer
					// would send it (bitswap servers ignore wants
					// for them), and storing it would only copy
					// the CID.
					p.add(b)
					if err := visit(b); err != nil {
						budget.give(tokens - sent)
						return err
					}
					continue
				}
				lookups.put(c)
				checking++
				sent++
			}
			budget.give(tokens - sent)
		}
		if inflight+checking == 0 {
			continue
		}

		select {
		case <-found.ready:
			// Want every block found missing so far at once: one
			// GetBlocks call for many costs bitswap less than many
			// calls for one each.
			looks = found.take(looks[:0])
			for i, r := range looks {
				looks[i] = lookup{}
				if err := looked(r); err != nil {
					return err
				}
			}
			if len(missing) > 0 {
				if err := sessions.want(missing, pending, received); err != nil {
					return err
				}
				inflight += len(missing)
				missing = missing[:0]
			}
		case <-received.ready:
			arrived = received.take(arrived[:0])
			for i, b := range arrived {
				arrived[i] = nil
				if err := got(b); err != nil {
					return err
				}
				// Store in batches, but never sit on blocks while
				// the network is quiet.
				if len(batch) >= batchSize || batched >= batchBytes || i == len(arrived)-1 && received.len() == 0 {
					if err := flush(); err != nil {
						return err
					}
				}
			}
		case <-tick.C:
			if time.Since(p.LastBlock()) > w.stall() {
				return &StallError{After: w.stall(), Blocks: p.Blocks.Load()}
			}
			if quiet := time.Since(later(p.LastBlock(), rewanted)); inflight > 0 && quiet > w.rewant() {
				// Ask again, through new sessions, once the old
				// ones' wants are gone.
				sessions.end()
				keys := make([]cid.Cid, 0, len(pending))
				for _, wt := range pending {
					keys = append(keys, wt.c)
				}
				wctx, cancel := context.WithTimeout(ctx, w.rewant())
				net.Unwanted(wctx, keys)
				cancel()
				sessions = newWalkSessions(ctx, net, sessions.n)
				if err := sessions.want(keys, pending, received); err != nil {
					return err
				}
				rewanted = time.Now()
				if w.Received != nil {
					w.Received.Rewants.Add(int64(len(keys)))
				}
			}
			if w.Crowded != nil && w.Yield > 0 && p.net.Load() == 0 && time.Since(started) > w.Yield && w.Crowded() {
				return &StallError{After: w.Yield, Blocks: p.Blocks.Load(), Yielded: true}
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := flush(); err != nil {
		return err
	}
	// Every block is here; a longer path to a block than the one the
	// walk first took may make the DAG too deep all the same.
	if _, err := graph.Depth(0, root); err != nil {
		return tack.TooDeep(root)
	}
	return nil
}

// tick is how often the walk checks for a stall.
func (w *Walker) tick() time.Duration {
	d := min(w.stall()/10, time.Second)
	if w.Yield > 0 {
		d = min(d, w.Yield/4)
	}
	return max(d, time.Millisecond)
}

// rewant is how long the walk waits for wanted blocks before it asks for
// them again through a new session.
//
// Bitswap's client (boxo v0.43.0) can lose a want for good. Its
// peerWantManager (bitswap/client/internal/peermanager/peerwantmanager.go:
// sendWants and broadcastWantHaves) sends a peer a want only if none for the
// block is recorded as sent to that peer, and it forgets a sent want only in
// sendCancels, which SessionManager.CancelSessionWants and RemoveSession
// (internal/sessionmanager/sessionmanager.go) call for blocks no session
// is interested in any more; a block's arrival does not clear it
// (PeerManager.ResponseReceived only measures latency). So when a block
// arrives for a session that is being closed (its fetch was cancelled),
// Client.receiveBlocksFrom (client.go) publishes it only to that session,
// and a new session that asks for the same block before the old session's
// cancels went out keeps the old want recorded as sent: its own want
// never leaves, no DONT_HAVE timeout runs for it, and it waits forever.
// Closing the walk's session makes bitswap send the cancels that clear
// those records (Sessions.Unwanted waits for them); the new session's
// wants then go out.
func (w *Walker) rewant() time.Duration {
	if w.Rewant > 0 {
		return w.Rewant
	}
	return max(w.stall()/4, time.Millisecond)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (w *Walker) stall() time.Duration {
	if w.Stall <= 0 {
		return 10 * time.Minute
	}
	return w.Stall
}

// lookup is what a looker found of a block in the blockstore: the block,
// or the error of its Get.
type lookup struct {
	c   cid.Cid
	b   blocks.Block
	err error
}

// want is a block the walk asked the network for, and the session it
// asked through.
type want struct {
	c       cid.Cid
	session *walkSession
}

// walkSession is one of a walk's bitswap sessions.
type walkSession struct {
	ctx      context.Context
	end      context.CancelFunc
	fetcher  exchange.Fetcher
	inflight int // blocks asked for through it and not received
}

// walkSessions are the sessions a walk spreads its wants over, up to n of
// them. Each is opened when a want finds every open one busy, so that the
// thousands of DAGs of one small block pinned a second each cost one
// session, not n.
type walkSessions struct {
	ctx context.Context
	net Sessions
	n   int
	all []*walkSession
}

func newWalkSessions(ctx context.Context, net Sessions, n int) *walkSessions {
	return &walkSessions{ctx: ctx, net: net, n: max(n, 1)}
}

// want asks for keys, each through the session with the fewest blocks in
// flight (a new one while fewer than n are open and each has some),
// records them in pending, and forwards what arrives to received.
func (ss *walkSessions) want(keys []cid.Cid, pending map[string]want, received *queue[blocks.Block]) error {
	batches := make(map[*walkSession][]cid.Cid, ss.n)
	for _, c := range keys {
		var s *walkSession
		for _, o := range ss.all {
			if s == nil || o.inflight < s.inflight {
				s = o
			}
		}
		if s == nil || s.inflight > 0 && len(ss.all) < ss.n {
			sctx, end := context.WithCancel(ss.ctx)
			s = &walkSession{ctx: sctx, end: end, fetcher: ss.net.NewSession(sctx)}
			ss.all = append(ss.all, s)
		}
		s.inflight++
		batches[s] = append(batches[s], c)
		pending[string(c.Hash())] = want{c, s}
	}
	for s, batch := range batches {
		ch, err := s.fetcher.GetBlocks(s.ctx, batch)
		if err != nil {
			return err
		}
		go forward(ch, received)
	}
	return nil
}

// end closes every session.
func (ss *walkSessions) end() {
	for _, s := range ss.all {
		s.end()
	}
}

// forward copies blocks from a GetBlocks channel to out until it closes,
// which it does once its session ends.
func forward(in <-chan blocks.Block, out *queue[blocks.Block]) {
	for b := range in {
		out.put(b)
	}
}

// checkCID refuses a link to a codec or a hash tack does not accept
// (tack.CheckHash: an identity CID over 128 bytes, a truncated digest)
// before the walk asks the network for it or reads it inline.
func checkCID(c cid.Cid) error {
	if codec := c.Prefix().Codec; !tack.CodecAllowed(codec) {
		return tack.Errorf(tack.EINVALID, "the DAG links to %.120s, which uses codec %s; tack accepts raw, dag-pb, dag-cbor and dag-json", c, tack.CodecName(codec))
	}
	if err := tack.CheckHash(c); err != nil {
		return tack.Errorf(tack.EINVALID, "the DAG links to %.120s, which tack refuses: %v", c, err)
	}
	return nil
}

// checkBlock verifies that tack accepts a block's codec and size and, if
// rehash is set, that its data hashes to its CID.
func checkBlock(b blocks.Block, rehash bool) error {
	c := b.Cid()
	if rehash {
		sum, err := c.Prefix().Sum(b.RawData())
		if err != nil || !sum.Equals(c) {
			return tack.Errorf(tack.EINVALID, "block %s does not match its hash", c)
		}
	}
	if err := dag.Check(b); err != nil {
		return tack.Errorf(tack.EINVALID, "%v", err)
	}
	return nil
}
