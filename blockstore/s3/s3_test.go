package s3_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	boxobs "github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/tack-ipfs/tack/blockstore"
	"github.com/tack-ipfs/tack/blockstore/blockstoretest"
	"github.com/tack-ipfs/tack/blockstore/s3"
	"github.com/tack-ipfs/tack/internal/miniotest"
	"github.com/tack-ipfs/tack/sqlite/sqlitetest"
)

// counter is a transport that counts requests by method.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[r.Method]++
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (c *counter) count(method string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[method]
}

// env is a MinIO server and what opens stores on it.
type env struct {
	srv *miniotest.Server
}

func newEnv(t testing.TB) *env { return &env{srv: miniotest.Start(t)} }

// options returns the options of a store under prefix in the bucket
// "tack", over index.
func (e *env) options(prefix string, index blockstore.PackIndex) s3.Options {
	return s3.Options{
		Endpoint:  e.srv.Endpoint,
		Bucket:    "tack",
		Prefix:    prefix,
		AccessKey: e.srv.AccessKey,
		SecretKey: e.srv.SecretKey,
		Index:     index,
	}
}

// MustOpen opens a store, closed by tb.Cleanup.
func MustOpen(tb testing.TB, o s3.Options) *s3.Store {
	tb.Helper()
	s, err := s3.Open(context.Background(), o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

// MustCache opens a cache of limit bytes in a temporary directory.
func MustCache(tb testing.TB, limit int64) *blockstore.Cache {
	tb.Helper()
	c, err := blockstore.OpenCache(filepath.Join(tb.TempDir(), "cache"), limit)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// objects returns the keys of the objects under prefix.
func (e *env) objects(tb testing.TB, prefix string) []string {
	tb.Helper()
	c, err := minio.New(e.srv.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(e.srv.AccessKey, e.srv.SecretKey, "")})
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for o := range c.ListObjects(context.Background(), "tack", minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			tb.Fatal(o.Err)
		}
		out = append(out, o.Key)
	}
	return out
}

var prefixes atomic.Int64

func newPrefix() string { return fmt.Sprintf("t%d/", prefixes.Add(1)) }

func TestConformance(t *testing.T) {
	e := newEnv(t)
	t.Run("Cache", func(t *testing.T) {
		blockstoretest.Run(t, func(t *testing.T) boxobs.Blockstore {
			o := e.options(newPrefix(), sqlitetest.MustOpen(t))
			o.Cache = MustCache(t, 1<<20)
			return MustOpen(t, o)
		})
	})
	t.Run("NoCacheSmallPacks", func(t *testing.T) {
		blockstoretest.Run(t, func(t *testing.T) boxobs.Blockstore {
			o := e.options(newPrefix(), sqlitetest.MustOpen(t))
			o.PackSize = 64 << 10
			return MustOpen(t, o)
		})
	})
}

func TestReopen(t *testing.T) {
	e := newEnv(t)
	indexes := map[string]blockstore.PackIndex{}
	prefix := newPrefix()
	blockstoretest.RunReopen(t, func(t *testing.T, name string) boxobs.Blockstore {
		ix, ok := indexes[name]
		if !ok {
			ix = sqlitetest.MustOpen(t)
			indexes[name] = ix
		}
		o := e.options(prefix+name+"/", ix)
		o.Cache = MustCache(t, 1<<20) // a new cache each time: reads go to the bucket
		return MustOpen(t, o)
	})
}

// Many small blocks make a few pack objects, not one object each.
func TestPacking(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var c counter
	prefix := newPrefix()
	o := e.options(prefix, sqlitetest.MustOpen(t))
	o.Transport = &c
	o.PackSize = 4 << 20
	s := MustOpen(t, o)
	bl := blockstoretest.RandomBlocks(t, 10000, 1024) // 10 MiB
	for _, b := range bl {
		if err := s.Put(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	objs := e.objects(t, prefix)
	if len(objs) < 2 || len(objs) > 4 {
		t.Errorf("10,000 blocks of 1 KiB in 4 MiB packs: %d objects, want 3", len(objs))
	}
	if n := c.count("PUT"); n > 4 {
		t.Errorf("%d PUT requests for 10,000 blocks", n)
	}
	for _, name := range objs {
		if !strings.HasPrefix(name, prefix+"packs/") || !strings.HasSuffix(name, ".pack") {
			t.Errorf("object %q: want %spacks/….pack", name, prefix)
		}
	}
	for _, b := range bl[:100] {
		blockstoretest.MustGetEqual(t, s, b)
	}
	du, err := s.DiskUsage(ctx)
	if err != nil || du != 10000*1024 {
		t.Errorf("DiskUsage: %d, %v; want %d", du, err, 10000*1024)
	}
}

// Every block written before a Sync is found by another store over the
// same bucket and index, even if the first one is never closed (a crash).
func TestSyncDurable(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ix := sqlitetest.MustOpen(t)
	prefix := newPrefix()
	o := e.options(prefix, ix)
	o.PackSize = 256 << 10
	o.FlushAfter = time.Hour
	first, err := s3.Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	var want []blocks.Block
	for i, n := range []int{1, 10, 300, 1000} {
		bl := blockstoretest.RandomBlocks(t, n, 100*(i+1)<<i)
		want = append(want, bl...)
		if err := first.PutMany(ctx, bl); err != nil {
			t.Fatal(err)
		}
		if err := first.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		second := MustOpen(t, e.options(prefix, ix))
		for _, b := range want {
			blockstoretest.MustGetEqual(t, second, b)
		}
	}
	// Concurrent Syncs, each after its own writes.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	var mu sync.Mutex
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bl := blockstoretest.RandomBlocks(t, 50, 2000)
			if err := first.PutMany(ctx, bl); err != nil {
				errs <- err
				return
			}
			if err := first.Sync(ctx); err != nil {
				errs <- err
				return
			}
			second := MustOpen(t, e.options(prefix, ix))
			for _, b := range bl {
				if _, err := second.Get(ctx, b.Cid()); err != nil {
					errs <- fmt.Errorf("after Sync: %w", err)
					return
				}
			}
			mu.Lock()
			want = append(want, bl...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// The first store is dropped without Close.
	second := MustOpen(t, e.options(prefix, ix))
	for _, b := range want {
		blockstoretest.MustGetEqual(t, second, b)
	}
}

// Cached blocks are read without a request to S3, even with the server
// gone; a block read once from S3 is cached.
func TestCache(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ix := sqlitetest.MustOpen(t)
	prefix := newPrefix()
	var c counter
	o := e.options(prefix, ix)
	o.Transport = &c
	o.Cache = MustCache(t, 64<<10)
	s := MustOpen(t, o)
	bl := blockstoretest.RandomBlocks(t, 100, 1024) // 100 KiB: the first ~36 are evicted
	if err := s.PutMany(ctx, bl); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	s3.WaitFills(s)
	gets := c.count("GET")
	for _, b := range bl[50:] {
		blockstoretest.MustGetEqual(t, s, b)
	}
	if n := c.count("GET") - gets; n != 0 {
		t.Errorf("reading 50 cached blocks made %d GET requests", n)
	}
	blockstoretest.MustGetEqual(t, s, bl[0]) // evicted: read from S3
	if n := c.count("GET") - gets; n != 1 {
		t.Errorf("reading an evicted block made %d GET requests, want 1", n)
	}
	blockstoretest.MustGetEqual(t, s, bl[0]) // cached again
	if n := c.count("GET") - gets; n != 1 {
		t.Errorf("reading it again made %d more GET requests", n-1)
	}
	e.srv.Stop()
	for _, b := range append(bl[60:], bl[0]) {
		blockstoretest.MustGetEqual(t, s, b)
	}
	if _, err := s.Get(ctx, bl[1].Cid()); err == nil {
		t.Error("an evicted block was read with the server gone")
	}
	// Closing with the server gone: nothing was left to upload.
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// Compact deletes packs with no live block, rewrites the mostly dead
// ones, and keeps every live block.
func TestCompact(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ix := sqlitetest.MustOpen(t)
	prefix := newPrefix()
	s := MustOpen(t, e.options(prefix, ix))
	var packs [][]blocks.Block
	for range 4 {
		bl := blockstoretest.RandomBlocks(t, 100, 1000)
		packs = append(packs, bl)
		if err := s.PutMany(ctx, bl); err != nil {
			t.Fatal(err)
		}
		if err := s.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(e.objects(t, prefix)); n != 4 {
		t.Fatalf("%d objects, want 4 packs", n)
	}
	del := func(bl []blocks.Block) {
		for _, b := range bl {
			if err := s.DeleteBlock(ctx, b.Cid()); err != nil {
				t.Fatal(err)
			}
		}
	}
	del(packs[0])      // all dead: deleted
	del(packs[1][:80]) // mostly dead: rewritten
	del(packs[2][:80]) // mostly dead: rewritten
	del(packs[3][:20]) // mostly live: kept
	before, _ := s.DiskUsage(ctx)
	if err := s.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	after, _ := s.DiskUsage(ctx)
	if want := uint64(100*1000 + 40*1000); after != want {
		t.Errorf("DiskUsage after Compact: %d (before %d), want %d", after, before, want)
	}
	if n := len(e.objects(t, prefix)); n != 2 {
		t.Errorf("%d objects after Compact, want 2: the mostly live pack and one of the two rewritten", n)
	}
	fresh := MustOpen(t, e.options(prefix, ix))
	live := append(append(append([]blocks.Block(nil), packs[1][80:]...), packs[2][80:]...), packs[3][20:]...)
	for _, b := range live {
		blockstoretest.MustGetEqual(t, fresh, b)
	}
	dead := append(append(append([]blocks.Block(nil), packs[0]...), packs[1][:80]...), packs[3][:20]...)
	for _, b := range dead {
		if blockstoretest.MustHas(t, fresh, b.Cid()) {
			t.Fatalf("a deleted block is back after Compact")
		}
	}
	// Nothing more to do.
	if err := s.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(e.objects(t, prefix)); n != 2 {
		t.Errorf("%d objects after a second Compact, want 2", n)
	}
}

// A block written again, or deleted, while its pack is being compacted
// ends as the last write or delete says: compaction's moves only apply
// where the block still is in the old pack.
func TestCompactRace(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ix := sqlitetest.MustOpen(t)
	prefix := newPrefix()
	s := MustOpen(t, e.options(prefix, ix))
	bl := blockstoretest.RandomBlocks(t, 10, 1000)
	if err := s.PutMany(ctx, bl); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for _, b := range bl[:7] {
		if err := s.DeleteBlock(ctx, b.Cid()); err != nil {
			t.Fatal(err)
		}
	}
	// bl[7..9] are live and being copied. Meanwhile: bl[7] is deleted and
	// written again (a new pin of it), bl[8] is deleted, and bl[0], dead
	// in the old pack, is written again.
	s3.SetBeforeMove(s, func() {
		for _, c := range []int{7, 8} {
			if err := s.DeleteBlock(ctx, bl[c].Cid()); err != nil {
				t.Error(err)
			}
		}
		if err := s.PutMany(ctx, []blocks.Block{bl[7], bl[0]}); err != nil {
			t.Error(err)
		}
		if err := s.Sync(ctx); err != nil {
			t.Error(err)
		}
	})
	if err := s.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	fresh := MustOpen(t, e.options(prefix, ix))
	for _, i := range []int{0, 7, 9} {
		blockstoretest.MustGetEqual(t, fresh, bl[i])
	}
	for _, i := range []int{1, 8} {
		if blockstoretest.MustHas(t, fresh, bl[i].Cid()) {
			t.Errorf("block %d: deleted, yet there after Compact", i)
		}
	}
	// The old pack is gone; the compacted one holds bl[9] only (bl[7] and
	// bl[8] were copied but did not move), the new one bl[7] and bl[0].
	ps, err := ix.Packs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 {
		t.Errorf("packs after Compact: %+v, want 2", ps)
	}
}

// Writers and Compact at once: no block that was written last is lost.
func TestCompactConcurrent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ix := sqlitetest.MustOpen(t)
	prefix := newPrefix()
	o := e.options(prefix, ix)
	o.PackSize = 32 << 10
	s := MustOpen(t, o)
	bl := blockstoretest.RandomBlocks(t, 200, 1000)
	if err := s.PutMany(ctx, bl); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for round := range 5 {
		for i, b := range bl {
			if i%5 != round {
				if err := s.DeleteBlock(ctx, b.Cid()); err != nil {
					t.Fatal(err)
				}
			}
		}
		done := make(chan error, 1)
		go func() { done <- s.Compact(ctx) }()
		for _, b := range bl {
			if err := s.Put(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		fresh := MustOpen(t, e.options(prefix, ix))
		for _, b := range bl {
			blockstoretest.MustGetEqual(t, fresh, b)
		}
	}
}

// Without a Sync, written blocks reach the bucket and the index
// FlushAfter after the first of them.
func TestFlushAfter(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ix := sqlitetest.MustOpen(t)
	prefix := newPrefix()
	o := e.options(prefix, ix)
	o.FlushAfter = 200 * time.Millisecond
	s := MustOpen(t, o)
	bl := blockstoretest.RandomBlocks(t, 10, 1000)
	if err := s.PutMany(ctx, bl); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := ix.Lookup(ctx, bl[9].Cid().Hash()); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("blocks not in the index 10 s after they were written, with FlushAfter 200ms")
		}
		time.Sleep(20 * time.Millisecond)
	}
	other := MustOpen(t, e.options(prefix, ix))
	for _, b := range bl {
		blockstoretest.MustGetEqual(t, other, b)
	}
}
