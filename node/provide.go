package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ipfs/boxo/blockstore"
	bprovider "github.com/ipfs/boxo/provider"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/namespace"
	dssync "github.com/ipfs/go-datastore/sync"
	pebbleds "github.com/ipfs/go-ds-pebble"
	ipld "github.com/ipfs/go-ipld-format"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	dhtprovider "github.com/libp2p/go-libp2p-kad-dht/provider"
	"github.com/libp2p/go-libp2p-kad-dht/provider/keystore"
	"github.com/libp2p/go-libp2p-kad-dht/provider/stats"
	"github.com/multiformats/go-multihash"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/dag"
)

// What Config.Provide accepts: the keys the node announces on the DHT.
const (
	// ProvideAll announces every block the blockstore holds, as Kubo does
	// by default, so that any CID inside a pinned DAG (a file in a
	// directory, say) can be found on its own.
	ProvideAll = "all"
	// ProvideRoots announces only the root of every pinned DAG: one
	// record per pin rather than one per block. A block inside is found
	// only through its root (a path, or a peer that already knows tack
	// holds the DAG).
	ProvideRoots = "roots"
)

// DefaultReprovideInterval is how often every key is announced again when
// Config.ReprovideInterval is zero: Kubo's 22 hours, well within the 48
// hours a DHT server keeps a provider record.
const DefaultReprovideInterval = 22 * time.Hour

// provideBatch is how many keys of a DAG Provide hands to the provider at a
// time when it announces every block.
const provideBatch = 4096

// providing runs go-libp2p-kad-dht's sweeping provider (the one Kubo uses
// by default): a keystore of the keys to announce, reprovided region by
// region of the keyspace over each interval, so that the records of a
// million keys cost a few thousand DHT lookups a cycle rather than one
// each. tack keeps the keystore equal to what it holds, as Kubo does:
// once at start and once every interval, from the roots of the pinned DAGs
// or the whole blockstore.
type providing struct {
	strategy string
	interval time.Duration
	keys     bprovider.KeyChanFunc // what should be provided now
	bs       blockstore.Blockstore
	log      *slog.Logger

	prov    *dhtprovider.SweepingProvider
	ks      *keystore.ResettableKeystore
	closers []func() error // datastores, after the provider and keystore
	wg      sync.WaitGroup // the sync and stats loops

	mu     sync.Mutex
	snap   stats.Stats
	synced time.Time // when the keystore last matched the keys
	cycle  cycleTrack
	last   *tack.ReprovideCycle
}

// cycleTrack is what the stats loop has seen of the running cycle.
type cycleTrack struct {
	start    time.Time // the cycle's start, as the provider reports it
	seen     time.Time // when the loop first saw this cycle
	provided int64     // the provider's count of keys provided at that moment
	failed   int64
}

// newProviding starts the sweeping provider on d.
func newProviding(ctx context.Context, cfg Config, d *dht.IpfsDHT) (*providing, error) {
	p := &providing{
		strategy: cfg.Provide,
		interval: cfg.ReprovideInterval,
		bs:       cfg.Blockstore,
		log:      cfg.Logger,
	}
	if p.strategy == "" {
		p.strategy = ProvideAll
	}
	if p.interval == 0 {
		p.interval = DefaultReprovideInterval
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	switch p.strategy {
	case ProvideAll:
		p.keys = cfg.Blockstore.AllKeysChan
	case ProvideRoots:
		if cfg.Roots == nil {
			return nil, errors.New("node: providing roots needs Config.Roots")
		}
		p.keys = cfg.Roots
	default:
		return nil, fmt.Errorf("node: provide %q: want all or roots", cfg.Provide)
	}

	state, ksOpts, err := p.openDatastores(cfg.ProvideDir)
	if err != nil {
		p.closeDatastores()
		return nil, err
	}
	p.ks, err = keystore.NewResettableKeystore(namespace.Wrap(state, datastore.NewKey("keystore")), ksOpts...)
	if err != nil {
		p.closeDatastores()
		return nil, fmt.Errorf("node: provider keystore: %w", err)
	}
	opts := []dhtprovider.Option{
		dhtprovider.WithHost(d.Host()),
		dhtprovider.WithRouter(d),
		dhtprovider.WithMessageSender(d.MessageSender()),
		dhtprovider.WithSelfAddrs(d.FilteredAddrs),
		dhtprovider.WithReplicationFactor(d.BucketSize()),
		dhtprovider.WithAddLocalRecord(func(ctx context.Context, h multihash.Multihash) error {
			return d.Provide(ctx, cid.NewCidV1(cid.Raw, h), false)
		}),
		dhtprovider.WithKeystore(p.ks),
		dhtprovider.WithDatastore(namespace.Wrap(state, datastore.NewKey("provider"))),
		dhtprovider.WithReprovideInterval(p.interval),
		dhtprovider.WithMaxReprovideDelay(min(time.Hour, p.interval/2)),
	}
	opts = append(opts, cfg.Provider...)
	p.prov, err = dhtprovider.New(opts...)
	if err != nil {
		p.ks.Close()
		p.closeDatastores()
		return nil, fmt.Errorf("node: provider: %w", err)
	}
	return p, nil
}

// openDatastores opens where the provider keeps its state: its schedule
// and the keystore, on disk under dir, or in memory if dir is empty. On
// disk each keystore generation is a Pebble database of its own, removed
// whole when a sync replaces it (deleting millions of keys one by one
// would leave the space to compaction).
func (p *providing) openDatastores(dir string) (datastore.Batching, []keystore.ResettableKeystoreOption, error) {
	if dir == "" {
		mem := dssync.MutexWrap(datastore.NewMapDatastore())
		return mem, nil, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("node: provider: %w", err)
	}
	state, err := pebbleds.NewDatastore(filepath.Join(dir, "state"))
	if err != nil {
		return nil, nil, fmt.Errorf("node: provider state: %w", err)
	}
	p.closers = append(p.closers, state.Close)
	keysDir := func(suffix string) (string, error) {
		if suffix != "0" && suffix != "1" {
			return "", fmt.Errorf("node: provider keystore %q", suffix)
		}
		return filepath.Join(dir, "keys-"+suffix), nil
	}
	var mu sync.Mutex
	open := map[string]*pebbleds.Datastore{}
	create := func(suffix string) (datastore.Batching, error) {
		path, err := keysDir(suffix)
		if err != nil {
			return nil, err
		}
		ds, err := pebbleds.NewDatastore(path)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		open[suffix] = ds
		mu.Unlock()
		return ds, nil
	}
	destroy := func(suffix string) error {
		path, err := keysDir(suffix)
		if err != nil {
			return err
		}
		mu.Lock()
		ds := open[suffix]
		delete(open, suffix)
		mu.Unlock()
		if ds != nil {
			_ = ds.Close() // usually closed by the keystore already
		}
		return os.RemoveAll(path)
	}
	return state, []keystore.ResettableKeystoreOption{keystore.WithDatastoreFactory(create, destroy)}, nil
}

func (p *providing) closeDatastores() {
	for i := len(p.closers) - 1; i >= 0; i-- {
		_ = p.closers[i]()
	}
	p.closers = nil
}

// start keeps the keystore in sync and watches the provider's progress
// in the background until ctx ends; close waits for them.
func (p *providing) start(ctx context.Context) {
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		p.syncLoop(ctx)
	}()
	go func() {
		defer p.wg.Done()
		p.statsLoop(ctx)
	}()
}

// syncLoop makes the keystore hold exactly the keys to provide, at start
// and then every interval: keys added since (by Provide) are kept, keys of
// DAGs no longer held are dropped, and keys missing (added while the
// provider could not take them) are scheduled.
func (p *providing) syncLoop(ctx context.Context) {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		p.sync(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (p *providing) sync(ctx context.Context) {
	start := time.Now()
	err := func() error {
		keys, err := p.keys(ctx)
		if err != nil {
			return err
		}
		// ResetCids swaps in what it read once keys is closed, so a
		// listing cut short must never close it: at shutdown the keys
		// stop coming and the keystore's Close ends the reset instead.
		// ResetCids gets no cancellation of its own either: cancelled
		// just as a reset starts, it leaves the keystore's worker blocked
		// and Close waiting on it forever (go-libp2p-kad-dht v0.42.2).
		whole := make(chan cid.Cid, 1024)
		go func() {
			for {
				select {
				case c, ok := <-keys:
					if !ok {
						if ctx.Err() == nil {
							close(whole)
						}
						return
					}
					select {
					case whole <- c:
					case <-ctx.Done():
						return
					}
				case <-ctx.Done():
					return
				}
			}
		}()
		if err := p.ks.ResetCids(context.WithoutCancel(ctx), whole); err != nil {
			return err
		}
		return p.prov.RefreshSchedule()
	}()
	switch {
	case ctx.Err() != nil:
	case err != nil:
		p.log.Error("provide: syncing the keys to provide", "strategy", p.strategy, "err", err)
	default:
		n, _ := p.ks.Size(ctx)
		p.log.Info("provide: keys to provide synced", "strategy", p.strategy, "keys", n, "took", time.Since(start).Round(time.Millisecond))
		p.mu.Lock()
		p.synced = time.Now()
		p.mu.Unlock()
	}
}

// statsEvery is how often the stats loop reads the provider's statistics:
// often enough to see each cycle end within a twentieth of it.
func (p *providing) statsEvery() time.Duration {
	return min(max(p.interval/20, 100*time.Millisecond), 10*time.Second)
}

// statsLoop reads the provider's statistics for ProvideStats, and logs a
// line with the totals of each reprovide cycle as it ends.
func (p *providing) statsLoop(ctx context.Context) {
	t := time.NewTicker(p.statsEvery())
	defer t.Stop()
	for {
		sctx, cancel := context.WithTimeout(ctx, time.Minute)
		s, err := p.prov.Stats(sctx)
		cancel()
		if err == nil {
			p.observe(s, time.Now())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// observe records a snapshot of the provider's statistics and, when a new
// cycle has begun, closes the previous one.
func (p *providing) observe(s stats.Stats, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.snap = s
	past := s.Operations.Past
	start := s.Timing.CycleStart.Truncate(time.Millisecond)
	switch {
	case p.cycle.start.IsZero():
	case start.After(p.cycle.start):
		c := &tack.ReprovideCycle{
			Start:        p.cycle.start,
			End:          start,
			Observed:     start.Sub(p.cycle.seen),
			Keys:         s.Schedule.Keys,
			Provided:     past.KeysProvided - p.cycle.provided,
			Failed:       past.KeysFailed - p.cycle.failed,
			Regions:      past.RegionReprovidedLastCycle,
			Late:         s.Queues.PendingRegionReprovides,
			RegionTook:   past.RegionReprovideDuration,
			Connectivity: s.Connectivity.Status,
		}
		if c.Start.Before(p.cycle.seen) {
			c.Start = p.cycle.seen // the node started within the cycle
		}
		p.last = c
		p.log.Info("provide: reprovide cycle ended", "keys", c.Keys, "provided", c.Provided, "failed", c.Failed,
			"regions", c.Regions, "late_regions", c.Late, "took", c.End.Sub(c.Start).Round(time.Second),
			"region_avg", c.RegionTook.Round(time.Millisecond), "connectivity", c.Connectivity)
	default:
		return
	}
	p.cycle = cycleTrack{start: start, seen: now, provided: past.KeysProvided, failed: past.KeysFailed}
}

// provideDAG announces root now, and with ProvideAll every block under it
// found in the blockstore, and keeps them provided from then on.
func (p *providing) provideDAG(ctx context.Context, root cid.Cid) error {
	if p.strategy != ProvideAll {
		return p.prov.StartProviding(true, root.Hash())
	}
	// Walk the DAG in the blockstore: the pinner announces only the root,
	// and the next sync would add the rest only an interval later.
	seen := map[string]bool{}
	stack := []cid.Cid{root}
	batch := make([]multihash.Multihash, 0, provideBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := p.prov.StartProviding(true, batch...)
		batch = batch[:0]
		return err
	}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if c.Prefix().MhType == multihash.IDENTITY || seen[string(c.Hash())] {
			continue
		}
		seen[string(c.Hash())] = true
		if c.Prefix().Codec != cid.Raw {
			b, err := p.bs.Get(ctx, c)
			switch {
			case ipld.IsNotFound(err):
				// Not held (yet): announce it all the same, as its root.
			case err != nil:
				return err
			default:
				links, err := dag.Links(b)
				if err != nil {
					return err
				}
				stack = append(stack, links...)
			}
		}
		batch = append(batch, c.Hash())
		if len(batch) == provideBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// close stops the provider once the context given to start has ended.
// The keystore's Close also ends a sync in progress.
func (p *providing) close() error {
	errs := []error{p.prov.Close(), p.ks.Close()}
	p.wg.Wait()
	p.closeDatastores()
	return errors.Join(errs...)
}

// ProvideStats returns the state of providing, as last read from the
// provider (a few seconds old at most). It costs no I/O.
func (n *Node) ProvideStats() tack.ProvideStats {
	if n.provide == nil {
		return tack.ProvideStats{}
	}
	p := n.provide
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.snap
	out := tack.ProvideStats{
		Enabled:      true,
		Strategy:     p.strategy,
		Interval:     p.interval,
		Connectivity: s.Connectivity.Status,
		Keys:         s.Schedule.Keys,
		Provided:     s.Operations.Past.KeysProvided,
		Failed:       s.Operations.Past.KeysFailed,
		Pending:      s.Queues.PendingKeyProvides,
		Regions:      s.Schedule.Regions,
		Reproviding:  int64(s.Operations.Ongoing.KeyReprovides),
		CycleStart:   s.Timing.CycleStart,
		NextAt:       s.Schedule.NextReprovideAt,
		Synced:       p.synced,
	}
	if p.last != nil {
		last := *p.last
		out.Last = &last
	}
	return out
}
