// Package blockstoretest is the conformance suite every tack blockstore
// passes, whatever its backend: the local flatfs store, S3, or any other.
// A backend's test is a few lines:
//
//	func TestLocal(t *testing.T) {
//		blockstoretest.Run(t, func(t *testing.T) blockstore.Blockstore { return MustOpenLocal(t, t.TempDir()) })
//	}
package blockstoretest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	format "github.com/ipfs/go-ipld-format"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/codec/dagjson"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/multiformats/go-multicodec"
	"github.com/multiformats/go-multihash"

	"github.com/tack-ipfs/tack"
)

// Run runs the suite. open must return a new, empty blockstore each time
// it is called, and arrange for it to be closed when t ends.
func Run(t *testing.T, open func(t *testing.T) blockstore.Blockstore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, bs blockstore.Blockstore)
	}{
		{"PutGet", testPutGet},
		{"Missing", testMissing},
		{"PutIdempotent", testPutIdempotent},
		{"Sizes", testSizes},
		{"KeyedByMultihash", testKeyedByMultihash},
		{"DeleteBlock", testDeleteBlock},
		{"PutMany", testPutMany},
		{"AllKeysChan", testAllKeysChan},
		{"Concurrent", testConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

// RunReopen checks that blocks survive closing and reopening a store.
// open(t, name) must return a store over the same storage every time it is
// called with the same name (a directory, a bucket prefix), and arrange for
// it to be closed when t ends. The suite closes the first store itself if
// it is an io.Closer, so Close must tolerate being called twice.
func RunReopen(t *testing.T, open func(t *testing.T, name string) blockstore.Blockstore) {
	ctx := context.Background()
	bs := open(t, "reopen")
	want := RandomBlocks(t, 20, 1000)
	if err := bs.PutMany(ctx, want); err != nil {
		t.Fatal(err)
	}
	if err := bs.DeleteBlock(ctx, want[0].Cid()); err != nil {
		t.Fatal(err)
	}
	if s, ok := bs.(interface{ Sync(context.Context) error }); ok {
		if err := s.Sync(ctx); err != nil {
			t.Fatalf("Sync: %v", err)
		}
	}
	if c, ok := bs.(io.Closer); ok {
		if err := c.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	bs = open(t, "reopen")
	if has := MustHas(t, bs, want[0].Cid()); has {
		t.Error("a deleted block came back after reopening")
	}
	for _, b := range want[1:] {
		MustGetEqual(t, bs, b)
	}
}

func testPutGet(t *testing.T, bs blockstore.Blockstore) {
	ctx := context.Background()
	for _, b := range []blocks.Block{
		MustBlock(t, multicodec.Raw, []byte("hello")),
		MustBlock(t, multicodec.DagCbor, []byte{0xa0}),
		MustBlock(t, multicodec.DagJson, []byte("{}")),
		MustBlock(t, multicodec.DagPb, nil),
	} {
		if err := bs.Put(ctx, b); err != nil {
			t.Fatalf("Put %s: %v", b.Cid(), err)
		}
		MustGetEqual(t, bs, b)
		if !MustHas(t, bs, b.Cid()) {
			t.Errorf("Has %s: got false after Put", b.Cid())
		}
	}
}

func testMissing(t *testing.T, bs blockstore.Blockstore) {
	ctx := context.Background()
	c := MustBlock(t, multicodec.Raw, []byte("never stored")).Cid()
	if _, err := bs.Get(ctx, c); !format.IsNotFound(err) {
		t.Errorf("Get of a missing block: got %v, want ipld.ErrNotFound", err)
	}
	if has := MustHas(t, bs, c); has {
		t.Error("Has of a missing block: got true")
	}
	size, err := bs.GetSize(ctx, c)
	if !format.IsNotFound(err) {
		t.Errorf("GetSize of a missing block: got error %v, want ipld.ErrNotFound", err)
	}
	if size != -1 {
		t.Errorf("GetSize of a missing block: got %d, want -1", size)
	}
	if err := bs.DeleteBlock(ctx, c); err != nil && !format.IsNotFound(err) {
		t.Errorf("DeleteBlock of a missing block: got %v, want nil or ipld.ErrNotFound", err)
	}
}

func testPutIdempotent(t *testing.T, bs blockstore.Blockstore) {
	ctx := context.Background()
	b := MustBlock(t, multicodec.Raw, []byte("twice"))
	for i := 0; i < 3; i++ {
		if err := bs.Put(ctx, b); err != nil {
			t.Fatalf("Put #%d: %v", i+1, err)
		}
	}
	MustGetEqual(t, bs, b)
	if got := countKeys(t, bs); got != 1 {
		t.Errorf("AllKeysChan after three Puts of one block: got %d keys, want 1", got)
	}
}

func testSizes(t *testing.T, bs blockstore.Blockstore) {
	ctx := context.Background()
	for _, n := range []int{0, 1, 1024, 256 << 10, tack.MaxBlockSize} {
		b := RandomBlocks(t, 1, n)[0]
		if err := bs.Put(ctx, b); err != nil {
			t.Fatalf("Put of %d bytes: %v", n, err)
		}
		size, err := bs.GetSize(ctx, b.Cid())
		if err != nil {
			t.Fatalf("GetSize of %d bytes: %v", n, err)
		}
		if size != n {
			t.Errorf("GetSize: got %d, want %d", size, n)
		}
		MustGetEqual(t, bs, b)
	}
}

// Blocks are stored under their multihash: a CIDv0 and its CIDv1 twin, or
// the same bytes under another codec, find the same block. Get answers
// with the CID it was asked for.
func testKeyedByMultihash(t *testing.T, bs blockstore.Blockstore) {
	ctx := context.Background()
	data := []byte{0x0a, 0x02, 0x08, 0x01} // a dag-pb node
	mh, err := multihash.Sum(data, multihash.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	v0 := cid.NewCidV0(mh)
	v1 := cid.NewCidV1(cid.DagProtobuf, mh)
	raw := cid.NewCidV1(cid.Raw, mh)
	b, err := blocks.NewBlockWithCid(data, v0)
	if err != nil {
		t.Fatal(err)
	}
	if err := bs.Put(ctx, b); err != nil {
		t.Fatal(err)
	}
	for _, c := range []cid.Cid{v0, v1, raw} {
		got, err := bs.Get(ctx, c)
		if err != nil {
			t.Fatalf("Get %s: %v", c, err)
		}
		if !got.Cid().Equals(c) {
			t.Errorf("Get %s: block has CID %s", c, got.Cid())
		}
		if !bytes.Equal(got.RawData(), data) {
			t.Errorf("Get %s: wrong data", c)
		}
	}
	if err := bs.DeleteBlock(ctx, raw); err != nil {
		t.Fatal(err)
	}
	if MustHas(t, bs, v0) {
		t.Error("DeleteBlock under one CID left the block under its twin")
	}
}

func testDeleteBlock(t *testing.T, bs blockstore.Blockstore) {
	ctx := context.Background()
	bl := RandomBlocks(t, 2, 100)
	if err := bs.PutMany(ctx, bl); err != nil {
		t.Fatal(err)
	}
	if err := bs.DeleteBlock(ctx, bl[0].Cid()); err != nil {
		t.Fatal(err)
	}
	if MustHas(t, bs, bl[0].Cid()) {
		t.Error("Has after DeleteBlock: got true")
	}
	if _, err := bs.Get(ctx, bl[0].Cid()); !format.IsNotFound(err) {
		t.Errorf("Get after DeleteBlock: got %v, want ipld.ErrNotFound", err)
	}
	MustGetEqual(t, bs, bl[1])
	// Put after delete stores it again.
	if err := bs.Put(ctx, bl[0]); err != nil {
		t.Fatal(err)
	}
	MustGetEqual(t, bs, bl[0])
}

func testPutMany(t *testing.T, bs blockstore.Blockstore) {
	ctx := context.Background()
	bl := RandomBlocks(t, 300, 500)
	// A duplicate inside the batch and one already stored.
	if err := bs.Put(ctx, bl[5]); err != nil {
		t.Fatal(err)
	}
	batch := append(append([]blocks.Block(nil), bl...), bl[0], bl[5])
	if err := bs.PutMany(ctx, batch); err != nil {
		t.Fatal(err)
	}
	for _, b := range bl {
		MustGetEqual(t, bs, b)
	}
	if err := bs.PutMany(ctx, nil); err != nil {
		t.Errorf("PutMany of nothing: %v", err)
	}
	if got := countKeys(t, bs); got != len(bl) {
		t.Errorf("AllKeysChan: got %d keys, want %d", got, len(bl))
	}
}

func testAllKeysChan(t *testing.T, bs blockstore.Blockstore) {
	ctx := context.Background()
	if got := countKeys(t, bs); got != 0 {
		t.Fatalf("a new store has %d keys", got)
	}
	bl := RandomBlocks(t, 1100, 10) // more than one page of most listings
	if err := bs.PutMany(ctx, bl); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, b := range bl {
		want[string(b.Cid().Hash())] = true
	}
	ch, err := bs.AllKeysChan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for c := range ch {
		k := string(c.Hash())
		if got[k] {
			t.Errorf("AllKeysChan: %s twice", c)
		}
		got[k] = true
		if !want[k] {
			t.Errorf("AllKeysChan: unexpected %s", c)
		}
	}
	if len(got) != len(want) {
		t.Errorf("AllKeysChan: got %d keys, want %d", len(got), len(want))
	}

	// Cancelling the context ends the listing early and closes the channel.
	cctx, cancel := context.WithCancel(ctx)
	ch, err = bs.AllKeysChan(cctx)
	if err != nil {
		t.Fatal(err)
	}
	<-ch
	cancel()
	done := make(chan struct{})
	go func() {
		for range ch {
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Error("AllKeysChan did not close its channel after cancel")
	}
}

func testConcurrent(t *testing.T, bs blockstore.Blockstore) {
	ctx := context.Background()
	bl := RandomBlocks(t, 200, 2000)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Every worker stores every block: concurrent Puts of the same
			// block must all succeed.
			for i := range bl {
				b := bl[(i+w*25)%len(bl)]
				if err := bs.Put(ctx, b); err != nil {
					errs <- err
					return
				}
				if _, err := bs.Get(ctx, b.Cid()); err != nil {
					errs <- fmt.Errorf("a Get right after Put: %w", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, b := range bl {
		MustGetEqual(t, bs, b)
	}
}

func countKeys(t *testing.T, bs blockstore.Blockstore) int {
	t.Helper()
	ch, err := bs.AllKeysChan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range ch {
		n++
	}
	return n
}

// MustNodeBlock encodes nd in codec, dag-cbor or dag-json, and returns the
// block.
func MustNodeBlock(tb testing.TB, codec multicodec.Code, nd datamodel.Node) blocks.Block {
	tb.Helper()
	var buf bytes.Buffer
	var err error
	switch codec {
	case multicodec.DagCbor:
		err = dagcbor.Encode(nd, &buf)
	case multicodec.DagJson:
		err = dagjson.Encode(nd, &buf)
	default:
		tb.Fatalf("blockstoretest: MustNodeBlock of codec %s", codec)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return MustBlock(tb, codec, buf.Bytes())
}

// MustBlock returns data as a block of codec under a sha2-256 CIDv1.
func MustBlock(tb testing.TB, codec multicodec.Code, data []byte) blocks.Block {
	tb.Helper()
	c, err := cid.V1Builder{Codec: uint64(codec), MhType: multihash.SHA2_256}.Sum(data)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := blocks.NewBlockWithCid(data, c)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// RandomBlocks returns n distinct raw blocks of size random bytes.
func RandomBlocks(tb testing.TB, n, size int) []blocks.Block {
	tb.Helper()
	var seed [32]byte
	for i := range seed {
		seed[i] = byte(rand.Uint32())
	}
	r := rand.NewChaCha8(seed)
	out := make([]blocks.Block, n)
	for i := range out {
		data := make([]byte, size)
		r.Read(data)
		if size == 0 && i > 0 {
			tb.Fatal("blockstoretest: only one distinct empty block")
		}
		out[i] = MustBlock(tb, multicodec.Raw, data)
	}
	return out
}

// MustHas returns whether bs has c, failing tb on error.
func MustHas(tb testing.TB, bs blockstore.Blockstore, c cid.Cid) bool {
	tb.Helper()
	has, err := bs.Has(context.Background(), c)
	if err != nil {
		tb.Fatalf("Has %s: %v", c, err)
	}
	return has
}

// MustGetEqual fails tb unless bs returns b's data under b's CID.
func MustGetEqual(tb testing.TB, bs blockstore.Blockstore, b blocks.Block) {
	tb.Helper()
	got, err := bs.Get(context.Background(), b.Cid())
	if err != nil {
		tb.Fatalf("Get %s: %v", b.Cid(), err)
	}
	if !got.Cid().Equals(b.Cid()) {
		tb.Errorf("Get %s: got CID %s", b.Cid(), got.Cid())
	}
	if !bytes.Equal(got.RawData(), b.RawData()) {
		tb.Errorf("Get %s: got %d bytes that differ from the %d stored", b.Cid(), len(got.RawData()), len(b.RawData()))
	}
}

// BenchmarkPut measures Put of distinct raw blocks of size bytes into bs,
// reporting MB/s and blocks/s. If bs has a Sync method, it is called once
// at the end, as the pinner does once per pin, and counted in the time.
func BenchmarkPut(b *testing.B, bs blockstore.Blockstore, size int) {
	ctx := context.Background()
	const pool = 4096
	bl := RandomBlocks(b, min(pool, max(1, (256<<20)/max(size, 1))), size)
	b.SetBytes(int64(size))
	i := 0
	for b.Loop() {
		blk := bl[i%len(bl)]
		if i >= len(bl) {
			// Past the pool, delete the block (untimed) so that every
			// Put really writes.
			b.StopTimer()
			if err := bs.DeleteBlock(ctx, blk.Cid()); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		if err := bs.Put(ctx, blk); err != nil {
			b.Fatal(err)
		}
		i++
	}
	if s, ok := bs.(interface{ Sync(context.Context) error }); ok {
		if err := s.Sync(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "blocks/s")
}

// BenchmarkPutMany is BenchmarkPut with blocks stored through PutMany in
// batches of batch blocks.
func BenchmarkPutMany(b *testing.B, bs blockstore.Blockstore, size, batch int) {
	ctx := context.Background()
	bl := RandomBlocks(b, batch, size)
	b.SetBytes(int64(size * batch))
	for b.Loop() {
		b.StopTimer()
		for _, blk := range bl {
			if err := bs.DeleteBlock(ctx, blk.Cid()); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if err := bs.PutMany(ctx, bl); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "blocks/s")
}

// BenchmarkPutParallel is BenchmarkPut with Puts from parallel goroutines
// (8 per CPU), as a pinner that stores blocks from many workers does.
// Blocks come from a pool made before the timer starts; once the pool is
// used up, each Put is preceded by a (timed) DeleteBlock of its block.
func BenchmarkPutParallel(b *testing.B, bs blockstore.Blockstore, size int) {
	ctx := context.Background()
	bl := RandomBlocks(b, min(8192, max(1, (256<<20)/max(size, 1))), size)
	var next atomic.Int64
	b.SetBytes(int64(size))
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1) - 1)
			blk := bl[i%len(bl)]
			if i >= len(bl) {
				if err := bs.DeleteBlock(ctx, blk.Cid()); err != nil {
					b.Error(err)
					return
				}
			}
			if err := bs.Put(ctx, blk); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(next.Load())/b.Elapsed().Seconds(), "blocks/s")
}
