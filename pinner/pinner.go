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
	"sync"
	"time"

	"github.com/ipfs/boxo/exchange"
	"github.com/ipfs/go-cid"
	"github.com/tack-ipfs/tack"
)

// Network is what the pinner needs of the IPFS node.
type Network interface {
	// Connect dials origins best effort; it never fails.
	Connect(ctx context.Context, origins []string)
	// Unprotect lets the connection manager close origins' connections.
	Unprotect(origins []string)
	// NewSession returns a bitswap session.
	NewSession(ctx context.Context) exchange.Fetcher
	// Provide announces that the node holds c.
	Provide(ctx context.Context, c cid.Cid) error
}

// Config tunes a Pinner. Zero values take the defaults.
type Config struct {
	Workers int           // DAGs fetched at once (default 8)
	Window  int           // blocks in flight per DAG (default 512)
	Lease   time.Duration // how long a claim outlives its worker (default 30s)
	Renew   time.Duration // how often progress is saved and leases renewed (default 2s)
	Poll    time.Duration // how often the queue is polled when idle (default 1s)
	Stall   time.Duration // a fetch with no new block for this long fails (default 10m)
	MaxTime time.Duration // a fetch running this long fails (default 24h)
	Dial    time.Duration // how long to wait for origins before fetching (default 10s)
	// Backoff is how long the pinner stops claiming after it failed to
	// store blocks, with the requests back in the queue (default 1m).
	Backoff time.Duration
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.Workers <= 0 {
		c.Workers = 8
	}
	if c.Window <= 0 {
		c.Window = 512
	}
	def(&c.Lease, 30*time.Second)
	def(&c.Renew, 2*time.Second)
	def(&c.Poll, time.Second)
	def(&c.Stall, 10*time.Minute)
	def(&c.MaxTime, 24*time.Hour)
	def(&c.Dial, 10*time.Second)
	def(&c.Backoff, time.Minute)
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

	mu     sync.Mutex
	jobs   map[string]*job // by content key
	paused time.Time       // no claims before this: storing blocks failed
}

var _ tack.Notifier = (*Pinner)(nil)

// job is the fetch of one DAG, shared by every request for it.
type job struct {
	key      string
	root     cid.Cid
	ids      map[string]bool // requests it serves
	origins  []string
	progress Progress
	cancel   context.CancelCauseFunc
	started  time.Time
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
	if bs.Stall <= 0 {
		bs.Stall = cfg.Stall
	}
	if log == nil {
		log = slog.Default()
	}
	return &Pinner{
		store: store, net: net, walker: bs, sync: sync, owner: owner, cfg: cfg, log: log,
		wake: make(chan struct{}, 1),
		jobs: map[string]*job{},
	}
}

// Queued wakes the pinner to claim new requests.
func (p *Pinner) Queued() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Removed detaches the request from its fetch, which stops if no other
// request needs it.
func (p *Pinner) Removed(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, j := range p.jobs {
		if j.ids[id] {
			delete(j.ids, id)
			if len(j.ids) == 0 {
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

// claim takes as many requests as there are free workers.
func (p *Pinner) claim(ctx context.Context, wg *sync.WaitGroup) {
	p.mu.Lock()
	free := p.cfg.Workers - len(p.jobs)
	paused := time.Now().Before(p.paused)
	p.mu.Unlock()
	if free <= 0 || paused || ctx.Err() != nil {
		return
	}
	reqs, err := p.store.ClaimPins(ctx, p.owner, free, time.Now().Add(p.cfg.Lease))
	if err != nil {
		if ctx.Err() == nil {
			p.log.Error("claiming pin requests", "err", err)
		}
		return
	}
	for _, r := range reqs {
		p.attach(ctx, wg, r)
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
		j.ids[r.ID] = true
		if len(r.Pin.Origins) > 0 {
			j.origins = append(j.origins, r.Pin.Origins...)
			go p.net.Connect(ctx, r.Pin.Origins)
		}
		return
	}
	jctx, cancel := context.WithCancelCause(ctx)
	j := &job{key: r.Key, root: root, ids: map[string]bool{r.ID: true}, origins: r.Pin.Origins, cancel: cancel, started: time.Now()}
	p.jobs[r.Key] = j
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer cancel(nil)
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
	sess := p.net.NewSession(ctx)
	err := p.walker.Walk(ctx, sess, j.root, &j.progress)
	if err == nil {
		if err = p.sync(ctx); err != nil && ctx.Err() == nil {
			err = StorageError{fmt.Errorf("syncing blocks to disk: %w", err)}
		}
	}

	p.mu.Lock()
	delete(p.jobs, j.key)
	ids := keys(j.ids)
	origins := j.origins
	p.mu.Unlock()
	p.net.Unprotect(origins)

	// Outcomes are recorded with the parent context: a fetch that ends as
	// the process stops still gets its result stored if it can.
	switch {
	case err == nil:
		d := &tack.DAG{Key: j.key, Blocks: j.progress.Blocks.Load(), Bytes: j.progress.Bytes.Load()}
		if err := p.store.CompleteDAG(context.WithoutCancel(parent), d); err != nil {
			p.log.Error("recording a pinned DAG", "cid", j.root, "err", err)
			p.release(ids)
			return
		}
		p.log.Info("pinned", "cid", j.root, "blocks", d.Blocks, "bytes", d.Bytes, "took", time.Since(j.started).Round(time.Millisecond))
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
	case errors.As(err, new(StorageError)):
		// Nothing is wrong with the request: put it back, and let the
		// disk recover (or the operator make room) before trying again.
		p.log.Error("storing a DAG failed; its requests are back in the queue and claiming pauses",
			"cid", j.root, "err", err, "pause", p.cfg.Backoff)
		p.mu.Lock()
		p.paused = time.Now().Add(p.cfg.Backoff)
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

// finish marks requests failed with a reason.
func (p *Pinner) finish(ctx context.Context, ids []string, reason string) {
	if err := p.store.FailPins(context.WithoutCancel(ctx), p.owner, ids, reason); err != nil {
		p.log.Error("recording failed pins", "err", err)
	}
}

// release returns claims to the queue.
func (p *Pinner) release(ids []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.store.ReleasePins(ctx, p.owner, ids); err != nil {
		p.log.Error("releasing claims", "err", err)
	}
}

// renew extends the leases of running jobs and saves their progress; a job
// whose requests are all gone (deleted, perhaps by another process) stops.
func (p *Pinner) renew(ctx context.Context) {
	p.mu.Lock()
	jobs := make([]*job, 0, len(p.jobs))
	for _, j := range p.jobs {
		jobs = append(jobs, j)
	}
	p.mu.Unlock()
	until := time.Now().Add(p.cfg.Lease)
	for _, j := range jobs {
		p.mu.Lock()
		ids := keys(j.ids)
		p.mu.Unlock()
		if len(ids) == 0 {
			continue
		}
		alive, err := p.store.RenewLeases(ctx, p.owner, ids, until, tack.Progress{Blocks: j.progress.Blocks.Load(), Bytes: j.progress.Bytes.Load()})
		if err != nil {
			if ctx.Err() == nil {
				p.log.Error("renewing leases", "err", err)
			}
			continue
		}
		held := map[string]bool{}
		for _, id := range alive {
			held[id] = true
		}
		p.mu.Lock()
		for _, id := range ids {
			if !held[id] {
				delete(j.ids, id)
			}
		}
		if len(j.ids) == 0 {
			j.cancel(errUnneeded)
		}
		p.mu.Unlock()
	}
}

func keys(m map[string]bool) []string {
	s := make([]string, 0, len(m))
	for k := range m {
		s = append(s, k)
	}
	return s
}
