// Package blockstore holds the blockstores tack keeps the blocks of pinned
// DAGs in: Local, on the local disk (the default), and the conformance
// suite in blockstoretest that every implementation passes.
//
// All of them are boxo blockstore.Blockstore values and key blocks by
// multihash, so a CIDv0 and its CIDv1 twin (or the same bytes under two
// codecs) share one stored block.
package blockstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	flatfs "github.com/ipfs/go-ds-flatfs"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"
	"github.com/tack-ipfs/tack/internal/diskspace"
	"golang.org/x/sys/unix"
)

// SmallBlock is the size up to which Local keeps a block in its key-value
// store rather than in a file of its own.
const SmallBlock = 16 << 10

// Local is a blockstore on the local disk in two parts:
//
//   - blocks up to SmallBlock bytes (the inner nodes of files and
//     directories, dag-cbor and dag-json documents, files chunked small)
//     in a Pebble key-value store under dir/pebble, where a write is an
//     append to a log;
//   - larger blocks (the 256 KiB leaves of files as Kubo chunks them) one
//     file per block under dir/flatfs, sharded by next-to-last/2 as Kubo
//     lays out its blocks.
//
// One file per block costs a file creation and a rename per block, which
// limits a 1 KiB-block DAG to a few thousand blocks a second here, while
// a log-structured store takes large blocks only by writing them twice
// (log, then tables) and again on every compaction.
//
// Blocks are written without fsync, which makes fetching fast; Sync makes
// every block written so far durable, once per pin rather than once per
// block.
type Local struct {
	small *pebble.DB
	large blockstore.Blockstore
	log   *slog.Logger
	room  func() error // nil: always room
	noWAL bool         // Pebble keeps no log (the cache): see options.noWAL

	flat  *flatfs.Datastore
	files *files   // writes the large blocks that flat reads
	dir   *os.File // held open for syncfs(2)

	// Write-behind: every writeBehind bytes of large blocks, a background
	// syncfs(2) starts writing them out, so that the Sync that ends a pin
	// finds little left to do. It runs on a descriptor of its own: a
	// write-back error is reported once per descriptor, and must reach
	// Sync's.
	behind      *os.File
	unflushed   atomic.Int64
	writingBack atomic.Bool
	// written counts the writes of large blocks, and synced is its value
	// that the last syncfs(2) of Sync covered: a Sync with no large block
	// written since skips it. A DAG of small blocks then costs a sync of
	// Pebble's log, not a flush of the whole filesystem, which also
	// writes out whatever else is dirty on it (another program's files
	// too). Only syncLoop touches synced.
	written     atomic.Int64
	synced      int64
	syncfsCalls atomic.Int64 // for tests
	// smallWritten and smallSynced do the same for Pebble's log: a Sync
	// with no small block written since the last skips syncing it.
	smallWritten atomic.Int64
	smallSynced  int64
	// addedSaved is the files' byte count last saved in Pebble (under
	// addedKey), for DiskUsage across restarts. Only syncLoop touches it.
	addedSaved int64
	// lastFlush is when the last flush began. Only syncLoop touches it.
	lastFlush time.Time

	mu      sync.Mutex
	pending *syncCall // the sync that callers arriving now will share
	syncing bool      // whether syncLoop is running
	loops   sync.WaitGroup
	closed  bool
}

var _ blockstore.Blockstore = (*Local)(nil)

// syncCall is one flush shared by every Sync caller waiting for it.
type syncCall struct {
	done chan struct{}
	err  error
}

// OpenLocal opens the blockstore in dir, creating the directory and both
// stores on first use. See OpenLocalContext.
func OpenLocal(dir string, opts ...Option) (*Local, error) {
	return OpenLocalContext(context.Background(), dir, opts...)
}

// openMargin is the room an open needs beyond the log it replays: a new
// manifest, an options file, markers, SQLite's files beside.
const openMargin = 1 << 20

// OpenLocalContext opens the blockstore in dir, creating the directory and
// both stores on first use. It never waits on a full disk: when dir's disk
// has less room than the open must write (Pebble replays its log into a
// table, then writes a new manifest), it returns a
// *diskspace.NoRoomError that says how much to free, and it gives up as
// soon as Pebble fails to write during the open or ctx ends.
func OpenLocalContext(ctx context.Context, dir string, opts ...Option) (*Local, error) {
	o := newOptions(opts)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("blockstore: %w", err)
	}
	if err := roomToOpen(dir, o); err != nil {
		return nil, fmt.Errorf("blockstore: %w", err)
	}
	shard := flatfs.NextToLast(2)
	flat, err := flatfs.CreateOrOpen(filepath.Join(dir, "flatfs"), shard, false)
	if err != nil {
		return nil, fmt.Errorf("blockstore: open %s: %w", dir, err)
	}
	fls, err := newFiles(filepath.Join(dir, "flatfs"), shard)
	if err != nil {
		flat.Close()
		return nil, fmt.Errorf("blockstore: open %s: %w", dir, err)
	}
	small, err := openPebble(ctx, filepath.Join(dir, "pebble"), o)
	if err != nil {
		flat.Close()
		return nil, fmt.Errorf("blockstore: open %s: %w", dir, err)
	}
	f, err := os.Open(dir)
	if err != nil {
		small.Close()
		flat.Close()
		return nil, fmt.Errorf("blockstore: %w", err)
	}
	behind, err := os.Open(dir)
	if err != nil {
		f.Close()
		small.Close()
		flat.Close()
		return nil, fmt.Errorf("blockstore: %w", err)
	}
	added, err := loadAdded(small)
	if err != nil {
		behind.Close()
		f.Close()
		small.Close()
		flat.Close()
		return nil, fmt.Errorf("blockstore: open %s: %w", dir, err)
	}
	fls.added.Store(added)
	return &Local{
		files:      fls,
		addedSaved: added,
		small:      small,
		log:        o.log,
		room:       o.room,
		noWAL:      o.noWAL,
		// Write through: the pinner looks for a block before it fetches
		// one, so checking again on every write would only cost a stat.
		large:  blockstore.NewBlockstore(flat, blockstore.NoPrefix(), blockstore.WriteThrough(true)),
		flat:   flat,
		dir:    f,
		behind: behind,
	}, nil
}

// roomToOpen checks that dir's disk has the room an open writes: Pebble
// turns the log it replays into a table before it opens (and writes a new
// manifest), so it needs about the log's size, and a margin. Short of it,
// it calls the disk-full callback once (which may release a reserve) and
// looks again.
func roomToOpen(dir string, o options) error {
	need := openNeed(filepath.Join(dir, "pebble"))
	err := diskspace.Check(dir, "opening the blockstore", need)
	if err != nil && diskspace.IsFull(err) && o.onDiskFull != nil {
		o.onDiskFull()
		err = diskspace.Check(dir, "opening the blockstore", need)
	}
	return err
}

// openNeed is about how many bytes opening the Pebble database in dir
// writes: its logs and manifests (the replay writes a table as large as
// the log, and a new manifest) and a margin.
func openNeed(dir string) uint64 {
	need := uint64(openMargin)
	if ents, err := os.ReadDir(dir); err == nil {
		for _, e := range ents {
			name := e.Name()
			if !strings.HasSuffix(name, ".log") && !strings.HasPrefix(name, "MANIFEST-") {
				continue
			}
			if fi, err := e.Info(); err == nil {
				need += uint64(fi.Size())
			}
		}
	}
	return need
}

// openPebble opens the small blocks' Pebble database. Pebble's Open waits
// until the log it replays is flushed into a table, and a flush that fails
// is retried at once, forever (DB.flush in its compaction.go: "TODO(peter):
// count consecutive flush errors and backoff"): on a full disk Open would
// spin, logging each failure, and never return. So the open runs on a
// goroutine of its own, and openPebble returns as soon as Pebble reports a
// failure, or ctx ends; the abandoned open is left to retry slowly (see
// pebbleEvents) until the process exits, and closed if it ever returns.
func openPebble(ctx context.Context, dir string, o options) (*pebble.DB, error) {
	cache := pebble.NewCache(32 << 20)
	events := &pebbleEvents{log: o.log, dir: dir, failed: make(chan error, 1), onFatal: o.onFatal}
	fs := vfs.Default
	if o.onDiskFull != nil {
		// Pebble's own hook for a reserve ("ballast"): on ENOSPC it calls
		// onDiskFull, then retries the write once.
		fs = vfs.OnDiskFull(fs, o.onDiskFull)
	}
	listener := events.listener()
	popts := &pebble.Options{
		FS:                 fs,
		Cache:              cache,
		MemTableSize:       16 << 20,
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             events,
		EventListener:      &listener,
		DisableWAL:         o.noWAL,
	}
	// Bloom filters (10 bits a key, 1% false positives) on every level:
	// most lookups on the write path are of blocks not stored yet (an
	// upload asks which of its blocks are new, the pinner whether it
	// must fetch one), and without a filter each such miss searches every
	// table whose key range covers it.
	for i := range popts.Levels {
		popts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	type opened struct {
		db  *pebble.DB
		err error
	}
	// An open that starts with an ended context would only be abandoned
	// half-way, still writing in dir after this returns.
	if ctx.Err() != nil {
		return nil, fmt.Errorf("opening pebble in %s: %w", dir, context.Cause(ctx))
	}
	done := make(chan opened, 1)
	abandoned := make(chan struct{})
	go func() {
		db, err := pebble.Open(dir, popts)
		cache.Unref() // the database holds its own reference
		select {
		case <-abandoned:
			if db != nil {
				db.Close()
			}
		case done <- opened{db, err}:
		}
	}()
	fail := func(err error) (*pebble.DB, error) {
		close(abandoned)
		// A result that came meanwhile is closed by nobody else.
		select {
		case r := <-done:
			if r.db != nil {
				r.db.Close()
			}
		default:
		}
		return nil, err
	}
	select {
	case r := <-done:
		events.opened.Store(true)
		return r.db, r.err
	case err := <-events.failed:
		if diskspace.IsFull(err) {
			// It had the room roomToOpen asked for, and wanted more.
			room, _ := diskspace.Of(dir)
			full := &diskspace.NoRoomError{Dir: dir, What: "opening the blockstore", Free: room.Free, Need: room.Free + openNeed(dir)}
			return fail(fmt.Errorf("%w (pebble: %v)", full, err))
		}
		return fail(fmt.Errorf("pebble could not write while opening: %w", err))
	case <-ctx.Done():
		return fail(fmt.Errorf("opening pebble in %s: %w", dir, context.Cause(ctx)))
	}
}

// pebbleEvents is Pebble's logger and its event listener: it sends
// Pebble's errors to the store's logger (as one kind of line, so that a
// rate-limited logger limits them), drops its chatter, slows its retries
// of failed background work, and tells an open in progress that it
// failed.
type pebbleEvents struct {
	log    *slog.Logger
	dir    string
	opened atomic.Bool
	failed chan error // the first failure during the open; buffered
	// failures counts background failures since the last success.
	failures atomic.Int64
	onFatal  func(error) // see options.onFatal
}

// pebbleBackoff is the longest wait before Pebble retries failed
// background work.
const pebbleBackoff = time.Second

func (p *pebbleEvents) listener() pebble.EventListener {
	succeeded := func() { p.failures.Store(0) }
	return pebble.EventListener{
		BackgroundError: p.backgroundError,
		FlushEnd: func(info pebble.FlushInfo) {
			if info.Err == nil {
				succeeded()
			}
		},
		CompactionEnd: func(info pebble.CompactionInfo) {
			if info.Err == nil {
				succeeded()
			}
		},
	}
}

// backgroundError logs a failed flush or compaction and waits before
// Pebble retries it: from 10 ms, doubling, to pebbleBackoff. Pebble calls
// it from the failed job, and retries when it returns.
func (p *pebbleEvents) backgroundError(err error) {
	p.log.Error("blockstore: pebble background job failed", "dir", p.dir, "err", err)
	p.openFailed(err)
	n := p.failures.Add(1)
	time.Sleep(min(10*time.Millisecond<<min(n-1, 10), pebbleBackoff))
}

// openFailed hands err to the open in progress, if one is.
func (p *pebbleEvents) openFailed(err error) {
	if p.opened.Load() {
		return
	}
	select {
	case p.failed <- err:
	default:
	}
}

func (*pebbleEvents) Infof(string, ...any) {}
func (p *pebbleEvents) Errorf(format string, args ...any) {
	p.log.Error("blockstore: pebble", "dir", p.dir, "err", fmt.Sprintf(format, args...))
}

// Fatalf is what Pebble calls when it cannot go on (a manifest it could
// not write, a commit whose log write failed: DB.applyInternal's "fatal
// commit error"). During the open, the open fails with the reason, and
// the goroutine Pebble called from waits for the process to exit; later,
// the process exits at once, as Pebble requires, unless the store has an
// onFatal hook (the cache): it is told, and the goroutine waits forever.
func (p *pebbleEvents) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.log.Error("blockstore: pebble cannot go on", "dir", p.dir, "err", msg)
	var err error = errors.New(msg)
	if strings.Contains(msg, unix.ENOSPC.Error()) {
		err = fmt.Errorf("%s: %w", msg, unix.ENOSPC)
	}
	if !p.opened.Load() {
		p.openFailed(err)
		select {}
	}
	if p.onFatal != nil {
		p.onFatal(err)
		select {}
	}
	os.Exit(1)
}

// readSmall calls read with the small block stored under c's multihash,
// if there is one, and tells whether there was. v is only valid during
// read.
func (l *Local) readSmall(c cid.Cid, read func(v []byte)) (bool, error) {
	v, closer, err := l.small.Get(c.Hash())
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("blockstore: get %s: %w", c, err)
	}
	read(v)
	return true, closer.Close()
}

// Get returns the block c names, or an ipld.ErrNotFound.
func (l *Local) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	if !c.Defined() {
		return nil, ipld.ErrNotFound{Cid: c}
	}
	var data []byte
	found, err := l.readSmall(c, func(v []byte) { data = append([]byte(nil), v...) })
	if err != nil {
		return nil, err
	}
	if found {
		return blocks.NewBlockWithCid(data, c)
	}
	return l.large.Get(ctx, c)
}

// Has tells whether the blockstore holds the block c names.
func (l *Local) Has(ctx context.Context, c cid.Cid) (bool, error) {
	if _, err := l.GetSize(ctx, c); err != nil {
		if ipld.IsNotFound(err) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// HasBlock reports whether b is stored, looking only where a block of its
// size is kept (Pebble up to SmallBlock, flatfs beyond): a Has that costs
// one lookup, for a writer that holds the block (gc's upload sessions).
func (l *Local) HasBlock(ctx context.Context, b blocks.Block) (bool, error) {
	if len(b.RawData()) <= SmallBlock {
		return l.readSmall(b.Cid(), func([]byte) {})
	}
	return l.large.Has(ctx, b.Cid())
}

// GetSize returns the size of the block c names, or an ipld.ErrNotFound.
func (l *Local) GetSize(ctx context.Context, c cid.Cid) (int, error) {
	if !c.Defined() {
		return -1, ipld.ErrNotFound{Cid: c}
	}
	var n int
	found, err := l.readSmall(c, func(v []byte) { n = len(v) })
	if err != nil {
		return -1, err
	}
	if found {
		return n, nil
	}
	return l.large.GetSize(ctx, c)
}

// Put stores a block.
func (l *Local) Put(ctx context.Context, b blocks.Block) error {
	if err := l.hasRoom(); err != nil {
		return err
	}
	if len(b.RawData()) <= SmallBlock {
		if err := l.small.Set(b.Cid().Hash(), b.RawData(), pebble.NoSync); err != nil {
			return fmt.Errorf("blockstore: put %s: %w", b.Cid(), err)
		}
		l.smallWritten.Add(1)
		return nil
	}
	if err := l.files.put(b); err != nil {
		return err
	}
	l.wrote(len(b.RawData()))
	return nil
}

// PutMany stores blocks: the small ones in one batch, the large ones in
// parallel files.
func (l *Local) PutMany(ctx context.Context, bs []blocks.Block) error {
	if err := l.hasRoom(); err != nil {
		return err
	}
	var large []blocks.Block
	// The batch is made the size its records will take, at most: grown
	// from empty, it doubles its buffer as it fills, and an upload's 2 MiB
	// batches of 1 KiB blocks allocated four times their size (2.2 GB for
	// a 1 GiB CAR, which raised the server's peak RSS).
	size := batchHeader
	for _, b := range bs {
		if n := len(b.RawData()); n <= SmallBlock {
			size += batchRecord + len(b.Cid().Hash()) + n
		}
	}
	batch := l.small.NewBatchWithSize(size)
	defer batch.Close()
	for _, b := range bs {
		if len(b.RawData()) > SmallBlock {
			large = append(large, b)
			continue
		}
		if err := batch.Set(b.Cid().Hash(), b.RawData(), nil); err != nil {
			return fmt.Errorf("blockstore: put %s: %w", b.Cid(), err)
		}
	}
	if !batch.Empty() {
		if err := batch.Commit(pebble.NoSync); err != nil {
			return fmt.Errorf("blockstore: put: %w", err)
		}
		l.smallWritten.Add(1)
	}
	if len(large) > 0 {
		if err := l.files.putMany(ctx, large); err != nil {
			return err
		}
		n := 0
		for _, b := range large {
			n += len(b.RawData())
		}
		l.wrote(n)
	}
	return nil
}

// The bytes of a Pebble batch's header, and the most a Set record takes
// beyond its key and value: its kind and the two lengths as varints.
const (
	batchHeader = 12
	batchRecord = 1 + 2*binary.MaxVarintLen32
)

// hasRoom returns the WithRoom function's error, if it was given one.
func (l *Local) hasRoom() error {
	if l.room == nil {
		return nil
	}
	if err := l.room(); err != nil {
		return fmt.Errorf("blockstore: %w", err)
	}
	return nil
}

// writeBehind is how many bytes of large blocks may be written before a
// background write-back starts.
const writeBehind = 32 << 20

// wrote counts n bytes written to flatfs and starts a write-back once
// writeBehind bytes have accumulated and none is running.
func (l *Local) wrote(n int) {
	l.written.Add(1)
	if l.unflushed.Add(int64(n)) < writeBehind || !l.writingBack.CompareAndSwap(false, true) {
		return
	}
	l.unflushed.Store(0)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.loops.Add(1)
	go func() {
		defer l.loops.Done()
		defer l.writingBack.Store(false)
		_ = unix.Syncfs(int(l.behind.Fd())) // errors are Sync's to report
	}()
}

// DeleteBlock removes a block. Removing a block that is not there is not
// an error.
func (l *Local) DeleteBlock(ctx context.Context, c cid.Cid) error {
	if err := l.small.Delete(c.Hash(), pebble.NoSync); err != nil {
		return fmt.Errorf("blockstore: delete %s: %w", c, err)
	}
	if err := l.large.DeleteBlock(ctx, c); err != nil && !ipld.IsNotFound(err) {
		return err
	}
	return nil
}

// Stored is a block as ForEachBlock finds it: where it is and its size,
// so that DeleteStored can delete it without looking it up again.
type Stored struct {
	Cid   cid.Cid // CIDv1 raw of the block's multihash
	Size  int
	Small bool // in Pebble, not a file of its own
}

// ForEachBlock calls fn for every stored block, small ones first, until fn
// returns an error. Small blocks are read from one consistent view of
// Pebble; blocks written meanwhile may or may not be seen.
func (l *Local) ForEachBlock(ctx context.Context, fn func(Stored) error) error {
	it, err := l.small.NewIterWithContext(ctx, nil)
	if err != nil {
		return fmt.Errorf("blockstore: list: %w", err)
	}
	for it.First(); it.Valid(); it.Next() {
		h, err := mh.Cast(append([]byte(nil), it.Key()...))
		if err != nil {
			continue // not a block's key
		}
		if err := fn(Stored{Cid: cid.NewCidV1(cid.Raw, h), Size: len(it.Value()), Small: true}); err != nil {
			it.Close()
			return err
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("blockstore: list: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the listing if fn fails
	large, err := l.large.AllKeysChan(ctx)
	if err != nil {
		return fmt.Errorf("blockstore: list: %w", err)
	}
	for c := range large {
		n, err := l.large.GetSize(ctx, c)
		if ipld.IsNotFound(err) {
			continue
		} else if err != nil {
			return err
		}
		if err := fn(Stored{Cid: c, Size: n}); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// DeleteStored deletes blocks that ForEachBlock found: the small ones in
// one batch, without looking them up again.
func (l *Local) DeleteStored(ctx context.Context, bs []Stored) error {
	batch := l.small.NewBatch()
	defer batch.Close()
	for _, b := range bs {
		if b.Small {
			if err := batch.Delete(b.Cid.Hash(), nil); err != nil {
				return fmt.Errorf("blockstore: delete %s: %w", b.Cid, err)
			}
			continue
		}
		if err := l.large.DeleteBlock(ctx, b.Cid); err != nil && !ipld.IsNotFound(err) {
			return err
		}
	}
	if batch.Empty() {
		return nil
	}
	if err := batch.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("blockstore: delete: %w", err)
	}
	return nil
}

// Compact gives back the space of deleted small blocks now, rather than
// when Pebble's own compactions reach them. A compaction writes its new
// tables before it drops the old ones: on a disk without the room for
// them, it logs that the space comes back later (at the next collection,
// or Pebble's own compactions) and returns nil, since the blocks are
// deleted all the same.
func (l *Local) Compact(ctx context.Context) error {
	err := l.small.Compact(ctx, []byte{}, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, true)
	if err != nil && diskspace.IsFull(err) {
		l.log.Warn("blockstore: no room to compact the deleted small blocks away: their space comes back once there is room", "err", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("blockstore: compact: %w", err)
	}
	return nil
}

// AllKeysChan lists every stored block as a CIDv1 with the raw codec: the
// blockstore keeps multihashes, not codecs.
func (l *Local) AllKeysChan(ctx context.Context) (<-chan cid.Cid, error) {
	it, err := l.small.NewIterWithContext(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("blockstore: list: %w", err)
	}
	out := make(chan cid.Cid, 64)
	go func() {
		defer close(out)
		send := func(c cid.Cid) bool {
			select {
			case out <- c:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for it.First(); it.Valid(); it.Next() {
			h, err := mh.Cast(append([]byte(nil), it.Key()...))
			if err != nil {
				continue // not a block's key
			}
			if !send(cid.NewCidV1(cid.Raw, h)) {
				it.Close()
				return
			}
		}
		if err := it.Close(); err != nil {
			l.log.Error("blockstore: listing small blocks", "err", err)
			return
		}
		large, err := l.large.AllKeysChan(ctx)
		if err != nil {
			l.log.Error("blockstore: listing large blocks", "err", err)
			return
		}
		for c := range large {
			if !send(c) {
				return
			}
		}
	}()
	return out, nil
}

// Sync makes every block written before the call durable: it syncs the
// small blocks' log, then, if a large block was written since the last
// flush, flushes the whole filesystem that holds the large blocks with
// syncfs(2) (flatfs' own Sync does nothing when it was opened without
// sync). Concurrent callers share flushes (a group commit), so many pins
// finishing at once cost about one flush, and flushes begin at most every
// flushInterval.
func (l *Local) Sync(ctx context.Context) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return errors.New("blockstore: sync of a closed blockstore")
	}
	c := l.pending
	if c == nil {
		c = &syncCall{done: make(chan struct{})}
		l.pending = c
		if !l.syncing {
			l.syncing = true
			l.loops.Add(1)
			go l.syncLoop()
		}
	}
	l.mu.Unlock()
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// flushInterval is the least time between the starts of two flushes.
// A Sync after a quiet spell flushes at once; while pins finish one after
// another, each flush waits out the rest of the interval and covers every
// call that arrived meanwhile. Migrating 1,000 one-block DAGs of 64 KiB
// (BenchmarkManyPins in cmd/tack), a flush for each pin or two put
// syncfs(2) and SQLite's fsync of its log in each other's way, in ext4's
// journal: at 10 ms the migration ran about a quarter faster, at 20 ms
// no faster than at 10.
const flushInterval = 10 * time.Millisecond

// syncLoop runs pending flushes one after another until none is left. A
// call that arrived while a flush was running waits for the next one, so
// that it covers every write the caller made before calling Sync.
func (l *Local) syncLoop() {
	defer l.loops.Done()
	for {
		if wait := flushInterval - time.Since(l.lastFlush); wait > 0 {
			time.Sleep(wait)
		}
		l.mu.Lock()
		c := l.pending
		l.pending = nil
		if c == nil {
			l.syncing = false
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		l.lastFlush = time.Now()
		c.err = l.flush()
		close(c.done)
	}
}

// flush makes both stores durable.
func (l *Local) flush() error {
	// A synced write waits for the log to be synced up to itself, so it
	// covers every write before it. Without a log (the cache), the small
	// blocks not yet in a table are not made durable.
	if added := l.files.added.Load(); added != l.addedSaved {
		// An estimate, saved without a sync of its own: the next one
		// of a small block, or Close's, makes it durable, and a crash
		// before leaves it short by what came since the last.
		if err := l.small.Set(addedKey, binary.AppendVarint(nil, added), pebble.NoSync); err != nil {
			return fmt.Errorf("blockstore: sync: %w", err)
		}
		l.addedSaved = added
	}
	if small := l.smallWritten.Load(); small != l.smallSynced && !l.noWAL {
		if err := l.small.LogData(nil, pebble.Sync); err != nil {
			return fmt.Errorf("blockstore: sync: %w", err)
		}
		l.smallSynced = small
	}
	written := l.written.Load()
	if written == l.synced {
		return nil // no large block since the last syncfs
	}
	if err := unix.Syncfs(int(l.dir.Fd())); err != nil {
		return fmt.Errorf("blockstore: syncfs %s: %w", l.dir.Name(), err)
	}
	l.synced = written
	l.syncfsCalls.Add(1)
	return nil
}

// DiskUsage returns about the bytes the blockstore uses on disk: Pebble's
// files, and the large blocks' files, counted as flatfs counts them
// (flatfs deletes them, and subtracts their sizes from its own count)
// plus what files wrote.
func (l *Local) DiskUsage(ctx context.Context) (uint64, error) {
	du, err := l.flat.DiskUsage(ctx)
	if err != nil {
		return 0, err
	}
	large := max(int64(du)+l.files.added.Load(), 0)
	return uint64(large) + l.small.Metrics().DiskSpaceUsage(), nil
}

// addedKey is the Pebble key under which the bytes of large blocks that
// files wrote are saved. It is not a multihash (0xff starts a varint
// that the next byte ends, and the length that follows is more than the
// bytes left), so the listings of blocks pass over it.
var addedKey = []byte("\xfftack/large-blocks-written")

// loadAdded reads the count saved under addedKey, or 0.
func loadAdded(db *pebble.DB) (int64, error) {
	v, closer, err := db.Get(addedKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer closer.Close()
	n, k := binary.Varint(v)
	if k <= 0 {
		return 0, fmt.Errorf("the count of large blocks' bytes under %q is not a varint", addedKey)
	}
	return n, nil
}

// Close flushes and closes the blockstore. Calling it again does nothing.
func (l *Local) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.mu.Unlock()
	// A last flush, so that a clean shutdown loses nothing.
	err := l.Sync(context.Background())
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.loops.Wait() // syncLoop has let go of the directory
	return errors.Join(err, l.small.Close(), l.flat.Close(), l.dir.Close(), l.behind.Close())
}
