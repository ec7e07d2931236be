// Package pinner runs tack's pin workers: it claims queued pin requests
// from the store, fetches their DAGs into the blockstore through the node,
// and records each request pinned or failed. Requests for the same DAG
// share one fetch; a fetch stops when no request needs it any more.
package pinner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/boxo/exchange"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/gc"
	"github.com/tack-ipfs/tack/internal/diskspace"
)

// Network is what the pinner needs of the IPFS node.
type Network interface {
	// Connect dials origins best effort; it never fails.
	Connect(ctx context.Context, origins []string)
	// Unprotect lets the connection manager close origins' connections.
	Unprotect(origins []string)
	// Sessions opens the bitswap sessions that fetches go through.
	Sessions
	// Provide announces that the node holds c.
	Provide(ctx context.Context, c cid.Cid) error
}

// Config tunes a Pinner. Zero values take the defaults.
type Config struct {
	// Fetches is how many DAGs may be fetched at once (default 256). They
	// share Budget, so many small DAGs keep the network busy and one large
	// DAG still gets Window blocks in flight.
	Fetches int
	Window  int // blocks in flight per DAG (default 512)
	// WindowBytes bounds the blocks in flight per DAG in bytes, estimated
	// from the sizes of those received (default 8 MiB; Walker.WindowBytes).
	WindowBytes int
	Budget      int           // blocks in flight over every DAG (default 2048)
	Batch       int           // most requests claimed at once (default 64)
	Lease       time.Duration // how long a claim outlives its worker (default 30s)
	Renew       time.Duration // how often progress is saved and leases renewed (default 2s)
	Poll        time.Duration // how often the queue is polled when idle: due retries, dead workers' claims (default 1s)
	// Stall is how long one attempt may go without receiving a block. Then
	// the request steps aside: it goes back to the queue to be tried again
	// after a delay that doubles with each attempt, from RetryMin to
	// RetryMax (defaults 1m, 1m and 1h).
	Stall time.Duration
	// Yield is how long an attempt that has received nothing may hold a
	// fetch while every fetch is taken and requests wait (default 5s).
	Yield    time.Duration
	RetryMin time.Duration
	RetryMax time.Duration
	// Timeout is how long a request may go without progress, over all its
	// attempts, before it fails (default 24h).
	Timeout time.Duration
	MaxTime time.Duration // one attempt running this long fails (default 24h)
	Dial    time.Duration // how long to wait for origins before fetching (default 10s)
	// Backoff is how long the pinner stops claiming after it failed to
	// store blocks, with the requests back in the queue (default 1m).
	Backoff time.Duration
	// Guard, if not nil, is what every fetch reads and stores blocks
	// through (one session per fetch, closed once the outcome is
	// recorded), so that garbage collection can run beside the fetches.
	Guard *gc.Guard
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt := func(n *int, v int) {
		if *n <= 0 {
			*n = v
		}
	}
	defInt(&c.Fetches, 256)
	defInt(&c.Window, 512)
	defInt(&c.WindowBytes, 8<<20)
	defInt(&c.Budget, 2048)
	defInt(&c.Batch, 64)
	def(&c.Lease, 30*time.Second)
	def(&c.Renew, 2*time.Second)
	def(&c.Poll, time.Second)
	def(&c.Stall, time.Minute)
	def(&c.Yield, 5*time.Second)
	def(&c.RetryMin, time.Minute)
	def(&c.RetryMax, time.Hour)
	def(&c.Timeout, 24*time.Hour)
	def(&c.MaxTime, 24*time.Hour)
	def(&c.Dial, 10*time.Second)
	def(&c.Backoff, time.Minute)
}

// retryAfter returns how long a request waits after its attempts-th
// attempt that found nothing: RetryMin doubled with each attempt, at most
// RetryMax, less up to a tenth at random so that requests posted together
// spread out.
func (c *Config) retryAfter(attempts int) time.Duration {
	d := c.RetryMax
	if attempts < 30 {
		d = min(c.RetryMin<<attempts, c.RetryMax)
	}
	return d - time.Duration(rand.Int64N(int64(d)/10+1))
}

// Pinner claims pin requests and fetches their DAGs. It implements
// tack.Notifier so that the API can wake it and cancel fetches at once.
type Pinner struct {
	store  tack.PinStore
	net    Network
	walker Walker
	sync   func(context.Context) error
	owner  string
	cfg    Config
	log    *slog.Logger
	wake   chan struct{}

	// waiting says that requests may be waiting for a fetch: the last
	// claim filled its batch, or the API has queued one since.
	waiting atomic.Bool

	received *Received // blocks received by every walk
	counts   struct {
		retries, pinned, failed, storeErrors, blockstoreErrors atomic.Int64
	}

	mu       sync.Mutex
	jobs     map[string]*job // by content key
	paused   time.Time       // no claims before this: storing blocks failed
	pauseWhy string          // why, for Waiting
}

var _ tack.Notifier = (*Pinner)(nil)

// job is the fetch of one DAG, shared by every request for it.
type job struct {
	key      string
	root     cid.Cid
	reqs     map[string]*tack.PinRequest // the requests it serves, as claimed
	origins  []string
	progress Progress
	cancel   context.CancelCauseFunc
	started  time.Time
	saved    int64     // blocks recorded by the last lease renewal
	until    time.Time // when the leases run out
}

// errUnneeded cancels a job whose requests were all deleted or replaced.
var errUnneeded = errors.New("no request needs this DAG any more")

// New returns a Pinner. owner names this process's claims in the store: it
// must be unique among running processes and stable across restarts of the
// same one (the node's peer ID), so that a restarted process takes its own
// unfinished claims back at once. sync makes stored blocks durable.
func New(store tack.PinStore, bs Walker, net Network, sync func(context.Context) error, owner string, cfg Config, log *slog.Logger) *Pinner {
	cfg.setDefaults()
	if bs.Window <= 0 {
		bs.Window = cfg.Window
	}
	if bs.WindowBytes <= 0 {
		bs.WindowBytes = cfg.WindowBytes
	}
	if bs.Stall <= 0 {
		bs.Stall = cfg.Stall
	}
	if bs.Budget == nil {
		bs.Budget = NewBudget(cfg.Budget)
	}
	if bs.Yield <= 0 {
		bs.Yield = cfg.Yield
	}
	if bs.Received == nil {
		bs.Received = &Received{}
	}
	if log == nil {
		log = slog.Default()
	}
	p := &Pinner{
		store: store, net: net, walker: bs, sync: sync, owner: owner, cfg: cfg, log: log,
		wake: make(chan struct{}, 1),
		jobs: map[string]*job{},

		received: bs.Received,
	}
	if p.walker.Crowded == nil {
		p.walker.Crowded = p.crowded
	}
	return p
}

// crowded reports whether every fetch is taken while requests may be
// waiting for one.
func (p *Pinner) crowded() bool {
	if !p.waiting.Load() {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.jobs) >= p.cfg.Fetches
}

// Queued wakes the pinner to claim new requests.
func (p *Pinner) Queued() {
	p.waiting.Store(true)
	p.notify()
}

// Removed detaches the request from its fetch, which stops if no other
// request needs it.
func (p *Pinner) Removed(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, j := range p.jobs {
		if j.reqs[id] != nil {
			delete(j.reqs, id)
			if len(j.reqs) == 0 {
				// Out of the map at once: a new request for the same DAG
				// claimed while this fetch stops starts a fetch of its
				// own, rather than joining one that is ending.
				delete(p.jobs, j.key)
				j.cancel(errUnneeded)
			}
			return
		}
	}
}

// Active returns how many DAG fetches are running.
func (p *Pinner) Active() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.jobs)
}

// Waiting says why queued requests are not being fetched, while claiming
// pauses after storing blocks failed ("waiting: no room on the data disk;
// fetching starts again after ..."), and "" otherwise. It is for the
// status_details of queued requests, and costs no I/O.
func (p *Pinner) Waiting() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !time.Now().Before(p.paused) {
		return ""
	}
	return "waiting: " + p.pauseWhy + "; fetching starts again after " + p.paused.UTC().Format(time.RFC3339)
}

// Stats returns what the pinner did since it was made, and the fetches
// running now. It costs no I/O.
func (p *Pinner) Stats() tack.PinnerStats {
	return tack.PinnerStats{
		Fetches:          p.Active(),
		FetchedBlocks:    p.received.Blocks.Load(),
		FetchedBytes:     p.received.Bytes.Load(),
		Retries:          p.counts.retries.Load(),
		Pinned:           p.counts.pinned.Load(),
		Failed:           p.counts.failed.Load(),
		StoreErrors:      p.counts.storeErrors.Load(),
		BlockstoreErrors: p.counts.blockstoreErrors.Load(),
	}
}

// Run claims and fetches until ctx ends. On return every claim it held is
// back in the queue, so another process (or this one, restarted) resumes.
func (p *Pinner) Run(ctx context.Context) error {
	// A previous run of this process may have died holding claims.
	if err := p.store.ReleasePins(ctx, p.owner, nil); err != nil {
		return fmt.Errorf("releasing old claims: %w", err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	poll := time.NewTicker(p.cfg.Poll)
	defer poll.Stop()
	renew := time.NewTicker(p.cfg.Renew)
	defer renew.Stop()

	for {
		p.claim(ctx, &wg)
		select {
		case <-ctx.Done():
			return nil
		case <-p.wake:
		case <-poll.C:
		case <-renew.C:
			p.renew(ctx)
		}
	}
}

// claim takes requests, in batches, while fetches are free and requests
// are waiting.
func (p *Pinner) claim(ctx context.Context, wg *sync.WaitGroup) {
	for ctx.Err() == nil {
		p.mu.Lock()
		free := p.cfg.Fetches - len(p.jobs)
		paused := time.Now().Before(p.paused)
		p.mu.Unlock()
		if free <= 0 || paused {
			return
		}
		n := min(free, p.cfg.Batch)
		reqs, err := p.store.ClaimPins(ctx, p.owner, n, time.Now().Add(p.cfg.Lease))
		if err != nil {
			if ctx.Err() == nil {
				p.counts.storeErrors.Add(1)
				p.log.Error("claiming pin requests", "err", err)
			}
			return
		}
		for _, r := range reqs {
			p.attach(ctx, wg, r)
		}
		if len(reqs) < n {
			p.waiting.Store(false) // the queue is empty, for now
			return
		}
		p.waiting.Store(true)
	}
}

// notify wakes the claim loop.
func (p *Pinner) notify() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// attach adds a claimed request to the fetch of its DAG, starting one if
// none runs.
func (p *Pinner) attach(ctx context.Context, wg *sync.WaitGroup, r *tack.PinRequest) {
	root, err := tack.ParseCID(r.Pin.CID)
	if err != nil {
		p.finish(ctx, []string{r.ID}, tack.ErrorMessage(err))
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if j, ok := p.jobs[r.Key]; ok {
		j.reqs[r.ID] = r
		if len(r.Pin.Origins) > 0 {
			j.origins = append(j.origins, r.Pin.Origins...)
			go p.net.Connect(ctx, r.Pin.Origins)
		}
		return
	}
	jctx, cancel := context.WithCancelCause(ctx)
	now := time.Now()
	j := &job{key: r.Key, root: root, reqs: map[string]*tack.PinRequest{r.ID: r}, origins: r.Pin.Origins,
		cancel: cancel, started: now, until: now.Add(p.cfg.Lease)}
	p.jobs[r.Key] = j
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer cancel(nil)
		defer p.notify() // a fetch is free: claim at once
		p.fetch(jctx, ctx, j)
	}()
}

// fetch runs one job to its end and records the outcome.
func (p *Pinner) fetch(ctx, parent context.Context, j *job) {
	ctx, stop := context.WithTimeoutCause(ctx, p.cfg.MaxTime, fmt.Errorf("gave up after %s", p.cfg.MaxTime))
	defer stop()
	if len(j.origins) > 0 {
		dctx, cancel := context.WithTimeout(ctx, p.cfg.Dial)
		p.net.Connect(dctx, j.origins)
		cancel()
	}
	w := p.walker
	// A DAG whose origins name several peers gets a window for each, up
	// to 4: from two providers behind far links (BenchmarkFarLink in
	// cmd/tack), 1 KiB blocks came 1.07-1.75x faster than with one window,
	// big blocks the same.
	peers := min(max(originPeers(j.origins), 1), 4)
	w.Window *= peers
	w.WindowBytes *= peers
	var sessions Sessions = p.net
	ps, ok := p.net.(PeerSessions)
	var originIDs []peer.ID
	if ok {
		originIDs = originPeerIDs(j.origins)
	}
	if len(originIDs) > 0 {
		// One session that spreads the wants over the origins' peers
		// itself. Even for one peer: from one Kubo provider on loopback,
		// 1 KiB blocks came 1.28-1.37x as fast as through a bitswap
		// session, for 28% less CPU a GB (BenchmarkLoopback in cmd/tack).
		sessions = peerSessions{p.net, ps, originIDs}
	} else if peers > 1 {
		w.Sessions = sessionsPerPeer * peers
	}
	if p.cfg.Guard != nil {
		blocks := p.cfg.Guard.Session()
		defer blocks.Close() // after the outcome is recorded, below
		w.Blockstore = blocks
	}
	err := w.Walk(ctx, sessions, j.root, &j.progress)
	var synced time.Duration // how long the final sync took
	if err == nil {
		start := time.Now()
		err = p.sync(ctx)
		synced = time.Since(start)
		if err != nil && ctx.Err() == nil {
			err = StorageError{fmt.Errorf("syncing blocks to disk: %w", err)}
		}
	}

	p.mu.Lock()
	if p.jobs[j.key] == j {
		delete(p.jobs, j.key)
	}
	reqs := slices.Collect(maps.Values(j.reqs))
	ids := slices.Collect(maps.Keys(j.reqs))
	origins := j.origins
	p.mu.Unlock()
	p.net.Unprotect(origins)

	// Outcomes are recorded with the parent context: a fetch that ends as
	// the process stops still gets its result stored if it can.
	var stalled *StallError
	switch {
	case err == nil:
		d := &tack.DAG{Key: j.key, Blocks: j.progress.Blocks.Load(), Bytes: j.progress.Bytes.Load()}
		if err := p.store.CompleteDAG(context.WithoutCancel(parent), d); err != nil {
			p.counts.storeErrors.Add(1)
			p.log.Error("recording a pinned DAG", "cid", j.root, "err", err)
			p.release(ids)
			return
		}
		p.counts.pinned.Add(int64(len(ids)))
		p.log.Info("pinned", "cid", j.root, "blocks", d.Blocks, "bytes", d.Bytes, "took", time.Since(j.started).Round(time.Millisecond), "sync", synced.Round(time.Millisecond))
		go func() {
			pctx, cancel := context.WithTimeout(parent, time.Minute)
			defer cancel()
			if err := p.net.Provide(pctx, j.root); err != nil && pctx.Err() == nil {
				p.log.Warn("providing a pinned DAG", "cid", j.root, "err", err)
			}
		}()
	case errors.Is(context.Cause(ctx), errUnneeded):
		// Every request was deleted: nothing to record.
	case parent.Err() != nil:
		// Shutting down: give the claims back for the next run.
		p.release(ids)
	case errors.As(err, &stalled):
		p.stepAside(parent, j, reqs, stalled)
	case errors.As(err, new(StorageError)):
		// Nothing is wrong with the request: put it back, and let the
		// disk recover (or the operator make room) before trying again.
		p.counts.blockstoreErrors.Add(1)
		p.log.Error("storing a DAG failed; its requests are back in the queue and claiming pauses",
			"cid", j.root, "err", err, "pause", p.cfg.Backoff)
		why := "storing blocks failed"
		if diskspace.IsFull(err) {
			why = "no room on the data disk"
		}
		p.mu.Lock()
		p.paused, p.pauseWhy = time.Now().Add(p.cfg.Backoff), why
		p.mu.Unlock()
		p.release(ids)
	case tack.ErrorCode(err) == tack.EINVALID:
		p.finish(parent, ids, tack.ErrorMessage(err))
	case context.Cause(ctx) != nil && ctx.Err() != nil:
		p.finish(parent, ids, context.Cause(ctx).Error())
	default:
		p.log.Error("fetching a DAG", "cid", j.root, "err", err)
		p.finish(parent, ids, "internal error while fetching: "+err.Error())
	}
}

// stepAside handles an attempt that received nothing for a while: each
// request goes back to the queue to be tried again later, unless it has
// gone Timeout without progress in all, and then it fails.
func (p *Pinner) stepAside(ctx context.Context, j *job, reqs []*tack.PinRequest, stalled *StallError) {
	now := time.Now()
	received := j.progress.Received()
	var failed []string
	var retries []tack.Retry
	attempts := 0
	for _, r := range reqs {
		last := r.ProgressAt
		if received.After(last) {
			last = received
		}
		if now.Sub(last) >= p.cfg.Timeout {
			failed = append(failed, r.ID)
			attempts = max(attempts, r.Attempts+1)
			continue
		}
		retries = append(retries, tack.Retry{ID: r.ID, At: now.Add(p.cfg.retryAfter(r.Attempts))})
	}
	if len(failed) > 0 {
		p.finish(ctx, failed, fmt.Sprintf("no progress for %s over %d attempts: %v (is the content online, and are the origins reachable?)",
			p.cfg.Timeout, attempts, stalled))
	}
	if err := p.store.RetryPins(context.WithoutCancel(ctx), p.owner, retries, stalled.Error(), tack.Progress{At: received}); err != nil {
		p.counts.storeErrors.Add(1)
		p.log.Error("putting requests back to retry", "err", err)
		return
	}
	p.counts.retries.Add(int64(len(retries)))
}

// finish marks requests failed with a reason.
func (p *Pinner) finish(ctx context.Context, ids []string, reason string) {
	if err := p.store.FailPins(context.WithoutCancel(ctx), p.owner, ids, reason); err != nil {
		p.counts.storeErrors.Add(1)
		p.log.Error("recording failed pins", "err", err)
		return
	}
	p.counts.failed.Add(int64(len(ids)))
}

// release returns claims to the queue.
func (p *Pinner) release(ids []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.store.ReleasePins(ctx, p.owner, ids); err != nil {
		p.counts.storeErrors.Add(1)
		p.log.Error("releasing claims", "err", err)
	}
}

// renew extends the leases of running jobs and saves their progress; a job
// whose requests are all gone (deleted, perhaps by another process) stops.
// A job is renewed when it has made progress since it was last saved, or
// when its lease is half gone: hundreds of fetches that wait for a provider
// cost no writes.
func (p *Pinner) renew(ctx context.Context) {
	now := time.Now()
	p.mu.Lock()
	jobs := make([]*job, 0, len(p.jobs))
	for _, j := range p.jobs {
		moved := j.progress.Blocks.Load() != j.saved && now.Sub(j.started) >= p.cfg.Renew
		if moved || j.until.Sub(now) < p.cfg.Lease/2 {
			jobs = append(jobs, j)
		}
	}
	p.mu.Unlock()
	until := now.Add(p.cfg.Lease)
	for _, j := range jobs {
		p.mu.Lock()
		ids := slices.Collect(maps.Keys(j.reqs))
		p.mu.Unlock()
		if len(ids) == 0 {
			continue
		}
		blocks := j.progress.Blocks.Load()
		alive, err := p.store.RenewLeases(ctx, p.owner, ids, until,
			tack.Progress{Blocks: blocks, Bytes: j.progress.Bytes.Load(), At: j.progress.Received()})
		if err != nil {
			if ctx.Err() == nil {
				p.counts.storeErrors.Add(1)
				p.log.Error("renewing leases", "err", err)
			}
			continue
		}
		held := map[string]bool{}
		for _, id := range alive {
			held[id] = true
		}
		p.mu.Lock()
		j.saved, j.until = blocks, until
		for _, id := range ids {
			if !held[id] {
				delete(j.reqs, id)
			}
		}
		if len(j.reqs) == 0 {
			j.cancel(errUnneeded)
		}
		p.mu.Unlock()
	}
}

// sessionsPerPeer is how many bitswap sessions a walk opens for each peer
// its origins name, when they name several (Walker.Sessions).
const sessionsPerPeer = 4

// PeerSessions is what a Network offers, if it can, to fetch from given
// peers at once.
type PeerSessions interface {
	// NewPeerSession returns a session that asks peers for blocks,
	// spreading its wants over them, and asks the network at large for
	// those none of them has. It ends with ctx.
	NewPeerSession(ctx context.Context, peers []peer.ID) exchange.Fetcher
}

// peerSessions opens a walk's sessions as PeerSessions over the peers of
// its origins.
type peerSessions struct {
	Sessions
	ps    PeerSessions
	peers []peer.ID
}

func (s peerSessions) NewSession(ctx context.Context) exchange.Fetcher {
	return s.ps.NewPeerSession(ctx, s.peers)
}

// originPeerIDs returns the distinct peer IDs of origins, in order.
func originPeerIDs(origins []string) []peer.ID {
	var ids []peer.ID
	for _, o := range origins {
		_, s, ok := strings.Cut(o, "/p2p/")
		if !ok {
			continue
		}
		if id, err := peer.Decode(strings.Split(s, "/")[0]); err == nil && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// originPeers counts the distinct peers among origins (multiaddrs ending in
// /p2p/ID); an address without a peer ID counts as a peer of its own.
func originPeers(origins []string) int {
	peers := map[string]bool{}
	for _, o := range origins {
		if _, id, ok := strings.Cut(o, "/p2p/"); ok {
			o = id
		}
		peers[o] = true
	}
	return len(peers)
}
