package blockstore

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"

	"github.com/tack-ipfs/tack/internal/diskspace"
)

// Cache is a size-limited cache of blocks on the local disk, in front of a
// remote store: a Local store that evicts its least recently used blocks
// once they hold more than the limit. It keeps no promise of durability:
// a block may be missing from it at any time.
//
// Recency is kept in memory, about 100 bytes a block; after a restart the
// blocks already cached count as used in no particular order.
//
// Filling the cache is optional work, and a full disk never takes the
// process or a read down through it:
//
//   - its Pebble keeps no write-ahead log (it promises no durability, and
//     a crash only loses the small blocks not yet in a table): Pebble
//     panics when a log write fails, holding its commit lock, and a
//     failed log rotation is a fatal error no recover catches;
//   - a block is cached only while the disk has room beyond a margin
//     (see fillMargin), read at most once a second, and while the
//     WithRoom function, if given, allows new blocks;
//   - the cache never calls the WithDiskFull function: it never releases
//     the reserve kept for deletions;
//   - the first write that fails (an error, a panic, Pebble's Fatalf, or
//     no answer in writeWait) turns the cache off until the next start:
//     it then answers every Get with a miss, so that reads go to the
//     remote store, and never writes to its Pebble again;
//   - a caller waits at most writeWait for a write to the cache.
type Cache struct {
	local *Local
	limit int64
	dir   string
	log   *slog.Logger

	// writes holds a token for each write to the local store in flight;
	// when all are taken (writes that do not return), writes are skipped.
	writes chan struct{}
	off    atomic.Bool   // a write failed: the cache is bypassed
	offCh  chan struct{} // closed when off is set

	roomMu sync.Mutex
	roomAt time.Time // when room was read
	roomOK bool      // whether the disk had room for fills then

	mu   sync.Mutex
	lru  list.List // of *cached, most recently used first
	byMH map[string]*list.Element
	size int64
}

type cached struct {
	mh   string
	size int
}

// writeWait is the longest a caller waits for a write to the cache; the
// write goes on without it.
const writeWait = 5 * time.Second

// closeWait is the longest Close waits for the store to close: Pebble
// waits for a flush in progress, which a full disk makes fail and retry.
const closeWait = time.Minute

// cacheWriters bounds the writes to the cache in flight.
const cacheWriters = 16

// roomEvery is how long a reading of the disk's room is used.
const roomEvery = time.Second

// fillMargin is the room the cache leaves free on its disk: 1/16 of the
// disk, between 4 MiB and 256 MiB. That is twice the reserve tack keeps
// for a full disk (1/32 of it), so that the cache stops filling well
// before tack must release the reserve, and never makes it do so.
func fillMargin(total uint64) uint64 {
	return min(max(total/16, 4<<20), 256<<20)
}

// OpenCache opens the cache in dir, limited to limit bytes of blocks.
// WithDiskFull does not apply to the cache: on a disk without the room to
// open it, OpenCache returns a *diskspace.NoRoomError, and a caller can do
// without the cache.
func OpenCache(dir string, limit int64, opts ...Option) (*Cache, error) {
	c := &Cache{
		limit:  limit,
		dir:    dir,
		log:    newOptions(opts).log,
		writes: make(chan struct{}, cacheWriters),
		offCh:  make(chan struct{}),
		byMH:   map[string]*list.Element{},
	}
	opts = append(opts[:len(opts):len(opts)], WithDiskFull(nil), func(o *options) {
		o.onFatal = func(err error) { c.turnOff("pebble", err) }
		o.noWAL = true
	})
	local, err := OpenLocal(dir, opts...)
	if err != nil {
		return nil, err
	}
	c.local = local
	err = local.ForEachBlock(context.Background(), func(s Stored) error {
		c.byMH[string(s.Cid.Hash())] = c.lru.PushBack(&cached{mh: string(s.Cid.Hash()), size: s.Size})
		c.size += int64(s.Size)
		return nil
	})
	if err != nil {
		local.Close()
		return nil, fmt.Errorf("blockstore: cache: %w", err)
	}
	c.evict()
	return c, nil
}

// Get returns the cached block c names, if it is cached.
func (c *Cache) Get(ctx context.Context, id cid.Cid) (blocks.Block, bool) {
	if c.off.Load() {
		return nil, false
	}
	mh := string(id.Hash())
	c.mu.Lock()
	e, ok := c.byMH[mh]
	if ok {
		c.lru.MoveToFront(e)
	}
	c.mu.Unlock()
	if !ok {
		return nil, false
	}
	b, err := c.local.Get(ctx, id)
	if err != nil {
		if !ipld.IsNotFound(err) {
			c.log.Warn("blockstore: cache: get", "cid", id, "err", err)
		}
		c.forget(mh)
		return nil, false
	}
	return b, true
}

// Put caches b, evicting what it must. It skips b when the disk is short
// of room, and when the cache is off.
func (c *Cache) Put(ctx context.Context, b blocks.Block) {
	if c.off.Load() {
		return
	}
	mh := string(b.Cid().Hash())
	c.mu.Lock()
	if e, ok := c.byMH[mh]; ok {
		c.lru.MoveToFront(e)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	if int64(len(b.RawData())) > c.limit || !c.roomToFill() || c.local.hasRoom() != nil {
		return
	}
	// The write may outlive the caller (see write): it must not fail, and
	// so turn the cache off, because the caller went away.
	ctx = context.WithoutCancel(ctx)
	if err := c.write("put", func() error { return c.local.Put(ctx, b) }); err != nil {
		return
	}
	c.mu.Lock()
	if _, ok := c.byMH[mh]; !ok {
		c.byMH[mh] = c.lru.PushFront(&cached{mh: mh, size: len(b.RawData())})
		c.size += int64(len(b.RawData()))
	}
	c.mu.Unlock()
	c.evict()
}

// Delete drops the blocks with multihashes mhs from the cache.
func (c *Cache) Delete(ctx context.Context, mhs [][]byte) {
	var gone []Stored
	c.mu.Lock()
	for _, mh := range mhs {
		if e, ok := c.byMH[string(mh)]; ok {
			gone = append(gone, c.drop(e))
		}
	}
	c.mu.Unlock()
	c.deleteStored(ctx, "delete", gone)
}

// Clear drops every block from the cache.
func (c *Cache) Clear(ctx context.Context) {
	c.mu.Lock()
	gone := make([]Stored, 0, len(c.byMH))
	for c.lru.Len() > 0 {
		gone = append(gone, c.drop(c.lru.Back()))
	}
	c.mu.Unlock()
	c.deleteStored(ctx, "clear", gone)
}

// deleteStored deletes blocks already dropped from the books from the
// local store. A cache that is off leaves them there: it never reads
// them again.
func (c *Cache) deleteStored(ctx context.Context, what string, gone []Stored) {
	if len(gone) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	_ = c.write(what, func() error { return c.local.DeleteStored(ctx, gone) })
}

// Size returns the bytes of blocks cached.
func (c *Cache) Size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}

// Off tells whether a write to the cache failed, so that the cache is
// bypassed until it is opened again.
func (c *Cache) Off() bool { return c.off.Load() }

// forget drops a block the cache lost track of.
func (c *Cache) forget(mh string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byMH[mh]; ok {
		c.drop(e)
	}
}

// drop removes e from the cache's books, under mu, and returns it as
// the local store lists it.
func (c *Cache) drop(e *list.Element) Stored {
	v := c.lru.Remove(e).(*cached)
	delete(c.byMH, v.mh)
	c.size -= int64(v.size)
	return Stored{Cid: cid.NewCidV1(cid.Raw, []byte(v.mh)), Size: v.size, Small: v.size <= SmallBlock}
}

// evict deletes the least recently used blocks until the cache is within
// its limit.
func (c *Cache) evict() {
	var gone []Stored
	c.mu.Lock()
	for c.size > c.limit {
		gone = append(gone, c.drop(c.lru.Back()))
	}
	c.mu.Unlock()
	c.deleteStored(context.Background(), "evict", gone)
}

// roomToFill tells whether the cache's disk has room beyond fillMargin,
// from a reading at most roomEvery old.
func (c *Cache) roomToFill() bool {
	c.roomMu.Lock()
	defer c.roomMu.Unlock()
	if now := time.Now(); now.Sub(c.roomAt) >= roomEvery {
		room, err := diskspace.Of(c.dir)
		c.roomOK = err == nil && room.Free >= fillMargin(room.Total)
		c.roomAt = now
	}
	return c.roomOK
}

// errCacheSkipped is write's error for a write it did not make.
var errCacheSkipped = errors.New("blockstore: cache: write skipped")

// write runs fn, a write to the local store, and returns its error. The
// first write that fails, panics or takes longer than writeWait turns the
// cache off; a refusal for lack of room (a diskspace.NoRoomError) does
// not. The caller waits at most writeWait: a write that does not return
// goes on holding one of cacheWriters tokens, and once none is left,
// writes are skipped.
func (c *Cache) write(what string, fn func() error) error {
	if c.off.Load() {
		return errCacheSkipped
	}
	select {
	case c.writes <- struct{}{}:
	default:
		return errCacheSkipped
	}
	return c.guard(what, writeWait, func() error {
		defer func() { <-c.writes }()
		return fn()
	})
}

// guard runs fn on a goroutine of its own, and returns its error, or
// errCacheSkipped as soon as the cache is turned off or, with wait above
// 0, once wait has passed (which turns the cache off). A panic in fn, or
// an error other than a diskspace.NoRoomError, turns the cache off.
// Pebble panics when a write to its log failed (DB.commitWrite), holding
// its commit lock, so that no write to it can ever finish again; and when
// a synced commit fails, it calls the logger's Fatalf, which (onFatal)
// turns the cache off and leaves that goroutine waiting forever.
func (c *Cache) guard(what string, wait time.Duration, fn func() error) error {
	done := make(chan error, 1)
	go func() {
		var err error
		defer func() {
			if r := recover(); r != nil {
				if e, ok := r.(error); ok {
					err = fmt.Errorf("pebble panicked: %w", e)
				} else {
					err = fmt.Errorf("pebble panicked: %v", r)
				}
			}
			var short *diskspace.NoRoomError
			if err != nil && !errors.As(err, &short) {
				c.turnOff(what, err)
			}
			done <- err
		}()
		err = fn()
	}()
	var timeout <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case err := <-done:
		return err
	case <-c.offCh:
		return errCacheSkipped
	case <-timeout:
		c.turnOff(what, fmt.Errorf("no answer from the disk in %v", wait))
		return errCacheSkipped
	}
}

// turnOff turns the cache off after a failed write, and says so once.
func (c *Cache) turnOff(what string, err error) {
	if c.off.Swap(true) {
		return
	}
	close(c.offCh)
	c.log.Error("blockstore: cache: a write failed: the cache is off until tack restarts, and blocks are read from the bucket",
		"dir", c.dir, "op", what, "full", diskspace.IsFull(err), "err", err)
}

// Close closes the cache. It waits at most writeWait for the writes in
// flight, and closeWait each for the small blocks to be written to a
// table (when the disk has room) and for the store to close. A cache that is off, or
// turns off while closing, is left open: its Pebble may never take a write again,
// and closing it would wait for one; its files stay open until the
// process exits.
func (c *Cache) Close() error {
	t := time.NewTimer(writeWait)
	defer t.Stop()
	for range cacheWriters {
		select {
		case c.writes <- struct{}{}:
		case <-t.C:
			c.turnOff("close", fmt.Errorf("writes in flight did not finish in %v", writeWait))
		}
		if c.off.Load() {
			break
		}
	}
	// Without a log, Pebble's Close drops the small blocks still in its
	// memtables: they are written to a table first, if there is room.
	if !c.off.Load() && c.roomToFill() {
		_ = c.guard("flush", closeWait, c.local.small.Flush)
	}
	if !c.off.Load() {
		err := c.guard("close", closeWait, c.local.Close)
		if !c.off.Load() {
			return err
		}
	}
	c.log.Warn("blockstore: cache: closing a cache that is off: its store is left as it is", "dir", c.dir)
	return nil
}
