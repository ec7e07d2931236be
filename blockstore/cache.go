package blockstore

import (
	"container/list"
	"context"
	"fmt"
	"sync"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// Cache is a size-limited cache of blocks on the local disk, in front of a
// remote store: a Local store that evicts its least recently used blocks
// once they hold more than the limit. It keeps no promise of durability:
// a block may be missing from it at any time.
//
// Recency is kept in memory, about 100 bytes a block; after a restart the
// blocks already cached count as used in no particular order.
type Cache struct {
	local *Local
	limit int64

	mu   sync.Mutex
	lru  list.List // of *cached, most recently used first
	byMH map[string]*list.Element
	size int64
}

type cached struct {
	mh   string
	size int
}

// OpenCache opens the cache in dir, limited to limit bytes of blocks.
func OpenCache(dir string, limit int64, opts ...Option) (*Cache, error) {
	local, err := OpenLocal(dir, opts...)
	if err != nil {
		return nil, err
	}
	c := &Cache{local: local, limit: limit, byMH: map[string]*list.Element{}}
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
			c.local.log.Warn("blockstore: cache: get", "cid", id, "err", err)
		}
		c.forget(mh)
		return nil, false
	}
	return b, true
}

// Put caches b, evicting what it must.
func (c *Cache) Put(ctx context.Context, b blocks.Block) {
	mh := string(b.Cid().Hash())
	c.mu.Lock()
	if e, ok := c.byMH[mh]; ok {
		c.lru.MoveToFront(e)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	if int64(len(b.RawData())) > c.limit {
		return
	}
	if err := c.local.Put(ctx, b); err != nil {
		c.local.log.Warn("blockstore: cache: put", "cid", b.Cid(), "err", err)
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
	if err := c.local.DeleteStored(ctx, gone); err != nil {
		c.local.log.Warn("blockstore: cache: delete", "err", err)
	}
}

// Clear drops every block from the cache.
func (c *Cache) Clear(ctx context.Context) {
	c.mu.Lock()
	gone := make([]Stored, 0, len(c.byMH))
	for c.lru.Len() > 0 {
		gone = append(gone, c.drop(c.lru.Back()))
	}
	c.mu.Unlock()
	if err := c.local.DeleteStored(ctx, gone); err != nil {
		c.local.log.Warn("blockstore: cache: clear", "err", err)
	}
}

// Size returns the bytes of blocks cached.
func (c *Cache) Size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}

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
	if len(gone) == 0 {
		return
	}
	if err := c.local.DeleteStored(context.Background(), gone); err != nil {
		c.local.log.Warn("blockstore: cache: evict", "err", err)
	}
}

// Close closes the cache.
func (c *Cache) Close() error { return c.local.Close() }
