// Package packindextest is the conformance suite of blockstore.PackIndex,
// which every metadata store that holds the S3 blockstore's index passes.
// A store's test is a few lines:
//
//	func TestPackIndex(t *testing.T) {
//		packindextest.Run(t, func(t *testing.T) blockstore.PackIndex { return MustOpenDB(t) })
//	}
package packindextest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/multiformats/go-multihash"

	"github.com/tack-ipfs/tack/blockstore"
)

// Run runs the suite. open must return a new, empty index each time it is
// called, and arrange for it to be closed when t ends. The subtests run in
// parallel, each on its own index.
func Run(t *testing.T, open func(t *testing.T) blockstore.PackIndex) {
	tests := []struct {
		name string
		fn   func(t *testing.T, ix blockstore.PackIndex)
	}{
		{"AddLookup", testAddLookup},
		{"NewestWins", testNewestWins},
		{"Move", testMove},
		{"DeleteBlocks", testDeleteBlocks},
		{"Blocks", testBlocks},
		{"PackBlocks", testPackBlocks},
		{"Packs", testPacks},
		{"DeletePack", testDeletePack},
		{"Concurrent", testConcurrent},
		{"Seq", testSeq},
		{"TouchRace", testTouchRace},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// Hash returns a distinct sha2-256 multihash for each i.
func Hash(i int) []byte {
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], uint64(i))
	d := sha256.Sum256(buf[:])
	h, err := multihash.Encode(d[:], multihash.SHA2_256)
	if err != nil {
		panic(err)
	}
	return h
}

// entries returns n fresh entries of 100 bytes each, end to end, for the
// hashes first, first+1, ….
func entries(first, n int) []blockstore.PackMove {
	out := make([]blockstore.PackMove, n)
	for i := range out {
		out[i] = blockstore.PackMove{PackEntry: blockstore.PackEntry{Hash: Hash(first + i), Offset: int64(100 * i), Length: 100}}
	}
	return out
}

// MustAddPack adds a pack named name holding es, failing tb on error.
func MustAddPack(tb testing.TB, ix blockstore.PackIndex, name string, es []blockstore.PackMove) {
	tb.Helper()
	if err := ix.AddPack(context.Background(), blockstore.Pack{Name: name, Size: int64(100 * len(es))}, es); err != nil {
		tb.Fatalf("AddPack %s: %v", name, err)
	}
}

// MustLookup returns where h is, failing tb if it is not found.
func MustLookup(tb testing.TB, ix blockstore.PackIndex, h []byte) blockstore.PackEntry {
	tb.Helper()
	e, err := ix.Lookup(context.Background(), h)
	if err != nil {
		tb.Fatalf("Lookup: %v", err)
	}
	return e
}

func mustMissing(tb testing.TB, ix blockstore.PackIndex, h []byte) {
	tb.Helper()
	if e, err := ix.Lookup(context.Background(), h); !errors.Is(err, blockstore.ErrNoBlock) {
		tb.Errorf("Lookup: got %+v, %v; want ErrNoBlock", e, err)
	}
}

func usage(tb testing.TB, ix blockstore.PackIndex) map[string]blockstore.PackUsage {
	tb.Helper()
	ps, err := ix.Packs(context.Background())
	if err != nil {
		tb.Fatalf("Packs: %v", err)
	}
	out := map[string]blockstore.PackUsage{}
	for i, p := range ps {
		if i > 0 && ps[i-1].Name >= p.Name {
			tb.Errorf("Packs not in name order: %q then %q", ps[i-1].Name, p.Name)
		}
		out[p.Name] = p
	}
	return out
}

func testAddLookup(t *testing.T, ix blockstore.PackIndex) {
	es := entries(0, 10)
	MustAddPack(t, ix, "p/a", es)
	for _, e := range es {
		got := MustLookup(t, ix, e.Hash)
		if got.Pack != "p/a" || got.Offset != e.Offset || got.Length != e.Length || !bytes.Equal(got.Hash, e.Hash) {
			t.Errorf("Lookup: got %+v, want %+v in p/a", got, e.PackEntry)
		}
	}
	mustMissing(t, ix, Hash(10))
	// An empty pack is allowed (every block of it was deleted before it
	// was recorded).
	MustAddPack(t, ix, "p/empty", nil)
	if u := usage(t, ix)["p/empty"]; u.Name != "p/empty" || u.LiveBlocks != 0 {
		t.Errorf("empty pack: got %+v", u)
	}
}

func testNewestWins(t *testing.T, ix blockstore.PackIndex) {
	MustAddPack(t, ix, "p/a", entries(0, 4))
	again := entries(2, 4) // 2 and 3 written again, 4 and 5 new
	MustAddPack(t, ix, "p/b", again)
	for i, want := range []string{"p/a", "p/a", "p/b", "p/b", "p/b", "p/b"} {
		if got := MustLookup(t, ix, Hash(i)); got.Pack != want {
			t.Errorf("block %d: in %s, want %s", i, got.Pack, want)
		}
	}
	if got := MustLookup(t, ix, Hash(3)); got.Offset != 100 {
		t.Errorf("block written again: offset %d, want its new 100", got.Offset)
	}
	u := usage(t, ix)
	if a := u["p/a"]; a.LiveBlocks != 2 || a.LiveBytes != 200 || a.Size != 400 {
		t.Errorf("p/a: got %+v, want 2 live blocks, 200 live bytes of 400", a)
	}
	if b := u["p/b"]; b.LiveBlocks != 4 || b.LiveBytes != 400 {
		t.Errorf("p/b: got %+v, want 4 live blocks of 400 bytes", b)
	}
}

// Compaction's moves apply only where the block still is in the pack it
// was copied from.
func testMove(t *testing.T, ix blockstore.PackIndex) {
	ctx := context.Background()
	MustAddPack(t, ix, "p/old", entries(0, 4))
	// Meanwhile block 1 is deleted and block 2 written again elsewhere.
	if err := ix.DeleteBlocks(ctx, [][]byte{Hash(1)}); err != nil {
		t.Fatal(err)
	}
	MustAddPack(t, ix, "p/new", entries(2, 1))
	var moves []blockstore.PackMove
	for i := range 4 {
		moves = append(moves, blockstore.PackMove{
			PackEntry: blockstore.PackEntry{Hash: Hash(i), Offset: int64(10 * i), Length: 100},
			From:      "p/old",
		})
	}
	MustAddPack(t, ix, "p/compacted", moves)
	if got := MustLookup(t, ix, Hash(0)); got.Pack != "p/compacted" || got.Offset != 0 {
		t.Errorf("moved block: got %+v", got)
	}
	if got := MustLookup(t, ix, Hash(3)); got.Pack != "p/compacted" || got.Offset != 30 {
		t.Errorf("moved block: got %+v", got)
	}
	mustMissing(t, ix, Hash(1))
	if got := MustLookup(t, ix, Hash(2)); got.Pack != "p/new" {
		t.Errorf("block written again during compaction: in %s, want p/new", got.Pack)
	}
	if old := usage(t, ix)["p/old"]; old.LiveBlocks != 0 {
		t.Errorf("p/old after compaction: %+v", old)
	}
}

func testDeleteBlocks(t *testing.T, ix blockstore.PackIndex) {
	ctx := context.Background()
	MustAddPack(t, ix, "p/a", entries(0, 3))
	if err := ix.DeleteBlocks(ctx, [][]byte{Hash(0), Hash(2), Hash(99)}); err != nil {
		t.Fatal(err)
	}
	mustMissing(t, ix, Hash(0))
	mustMissing(t, ix, Hash(2))
	MustLookup(t, ix, Hash(1))
	if err := ix.DeleteBlocks(ctx, nil); err != nil {
		t.Errorf("DeleteBlocks of nothing: %v", err)
	}
	// Written again after deletion: back.
	MustAddPack(t, ix, "p/b", entries(0, 1))
	if got := MustLookup(t, ix, Hash(0)); got.Pack != "p/b" {
		t.Errorf("got %+v", got)
	}
}

func testBlocks(t *testing.T, ix blockstore.PackIndex) {
	ctx := context.Background()
	const n = 1050
	MustAddPack(t, ix, "p/a", entries(0, 600))
	MustAddPack(t, ix, "p/b", entries(600, n-600))
	if err := ix.DeleteBlocks(ctx, [][]byte{Hash(7)}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var after []byte
	for {
		page, err := ix.Blocks(ctx, after, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		if len(page) > 100 {
			t.Fatalf("page of %d entries, limit 100", len(page))
		}
		for _, e := range page {
			if after != nil && bytes.Compare(e.Hash, after) <= 0 {
				t.Fatalf("Blocks: %x after %x", e.Hash, after)
			}
			after = e.Hash
			if e.Pack != "p/a" && e.Pack != "p/b" || e.Length != 100 {
				t.Errorf("Blocks: entry %+v", e)
			}
			seen[string(e.Hash)] = true
		}
	}
	if len(seen) != n-1 || seen[string(Hash(7))] {
		t.Errorf("Blocks listed %d entries, want %d without the deleted one", len(seen), n-1)
	}
}

func testPackBlocks(t *testing.T, ix blockstore.PackIndex) {
	es := entries(0, 5)
	// Recorded out of offset order.
	MustAddPack(t, ix, "p/a", []blockstore.PackMove{es[3], es[0], es[4], es[1], es[2]})
	MustAddPack(t, ix, "p/b", entries(10, 2))
	got, err := ix.PackBlocks(context.Background(), "p/a")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 {
		t.Fatalf("PackBlocks: got %d entries, want 5", len(got))
	}
	for i, e := range got {
		if e.Offset != int64(100*i) || !bytes.Equal(e.Hash, Hash(i)) || e.Pack != "p/a" {
			t.Errorf("PackBlocks[%d]: got %+v", i, e)
		}
	}
	if got, err := ix.PackBlocks(context.Background(), "p/none"); err != nil || len(got) != 0 {
		t.Errorf("PackBlocks of an unknown pack: %v, %v", got, err)
	}
}

func testPacks(t *testing.T, ix blockstore.PackIndex) {
	ctx := context.Background()
	if u := usage(t, ix); len(u) != 0 {
		t.Fatalf("a new index has packs: %v", u)
	}
	MustAddPack(t, ix, "p/b", entries(0, 3))
	MustAddPack(t, ix, "p/a", entries(3, 2))
	if err := ix.DeleteBlocks(ctx, [][]byte{Hash(1)}); err != nil {
		t.Fatal(err)
	}
	u := usage(t, ix)
	if len(u) != 2 {
		t.Fatalf("Packs: got %d, want 2", len(u))
	}
	if b := u["p/b"]; b.Size != 300 || b.LiveBlocks != 2 || b.LiveBytes != 200 {
		t.Errorf("p/b: %+v", b)
	}
	if a := u["p/a"]; a.Size != 200 || a.LiveBlocks != 2 || a.LiveBytes != 200 {
		t.Errorf("p/a: %+v", a)
	}
}

func testDeletePack(t *testing.T, ix blockstore.PackIndex) {
	ctx := context.Background()
	MustAddPack(t, ix, "p/a", entries(0, 2))
	if ok, err := ix.DeletePack(ctx, "p/a"); err != nil || ok {
		t.Errorf("DeletePack of a pack with live blocks: %v, %v; want false", ok, err)
	}
	MustLookup(t, ix, Hash(0))
	if err := ix.DeleteBlocks(ctx, [][]byte{Hash(0), Hash(1)}); err != nil {
		t.Fatal(err)
	}
	if ok, err := ix.DeletePack(ctx, "p/a"); err != nil || !ok {
		t.Errorf("DeletePack of an empty pack: %v, %v; want true", ok, err)
	}
	if _, ok := usage(t, ix)["p/a"]; ok {
		t.Error("a deleted pack is still listed")
	}
	if ok, err := ix.DeletePack(ctx, "p/unknown"); err != nil || !ok {
		t.Errorf("DeletePack of an unknown pack: %v, %v; want true", ok, err)
	}
}

// Writers racing on the same blocks, and a deleter, never fail, and each
// block ends up in one of the packs that held it.
func testConcurrent(t *testing.T, ix blockstore.PackIndex) {
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5 {
				name := fmt.Sprintf("p/w%d-%d", w, i)
				if err := ix.AddPack(ctx, blockstore.Pack{Name: name, Size: 5000}, entries(10*i, 50)); err != nil {
					errs <- err
					return
				}
				if _, err := ix.Lookup(ctx, Hash(10*i)); err != nil {
					errs <- err
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
	for i := range 90 {
		if e := MustLookup(t, ix, Hash(i)); e.Length != 100 {
			t.Errorf("block %d: %+v", i, e)
		}
	}
	total := int64(0)
	for _, u := range usage(t, ix) {
		total += u.LiveBlocks
	}
	if total != 90 {
		t.Errorf("live blocks over all packs: %d, want 90", total)
	}
}

// Writes and touches move entries past Seq; moves do not; DeleteUnchanged
// spares entries written or touched after its position.
func testSeq(t *testing.T, ix blockstore.PackIndex) {
	ctx := t.Context()
	MustAddPack(t, ix, "p1", entries(0, 6))
	s0 := mustSeq(t, ix)
	MustAddPack(t, ix, "p2", entries(4, 1)) // block 4 written again
	missing, err := ix.Touch(ctx, [][]byte{Hash(1), Hash(100), Hash(2)})
	if err != nil {
		t.Fatalf("Touch: %v", err)
	}
	if len(missing) != 1 || !bytes.Equal(missing[0], Hash(100)) {
		t.Fatalf("Touch missing = %x, want block 100 alone", missing)
	}
	// A compaction moves block 3: no write, so it stays at its position.
	MustAddPack(t, ix, "p3", []blockstore.PackMove{{PackEntry: blockstore.PackEntry{Hash: Hash(3), Offset: 0, Length: 100}, From: "p1"}})
	if s1 := mustSeq(t, ix); s1 <= s0 {
		t.Fatalf("Seq after writes and touches = %d, want past %d", s1, s0)
	}
	all := [][]byte{Hash(0), Hash(1), Hash(2), Hash(3), Hash(4), Hash(5), Hash(100)}
	n, size, err := ix.DeleteUnchanged(ctx, all, s0)
	if err != nil {
		t.Fatalf("DeleteUnchanged: %v", err)
	}
	if n != 3 || size != 300 {
		t.Errorf("DeleteUnchanged removed %d entries of %d bytes, want 3 of 300 (blocks 0, 3, 5)", n, size)
	}
	for _, i := range []int{0, 3, 5} {
		mustMissing(t, ix, Hash(i))
	}
	for _, i := range []int{1, 2, 4} {
		MustLookup(t, ix, Hash(i))
	}
	// Past every position, everything listed goes.
	n, _, err = ix.DeleteUnchanged(ctx, all, mustSeq(t, ix))
	if err != nil || n != 3 {
		t.Fatalf("DeleteUnchanged at the last position removed %d (%v), want 3", n, err)
	}
	if missing, err := ix.Touch(ctx, [][]byte{Hash(1)}); err != nil || len(missing) != 1 {
		t.Fatalf("Touch of a removed entry = %x, %v, want it missing", missing, err)
	}
}

// Touches racing a DeleteUnchanged of the same entries: every entry is
// either reported touched and kept, or removed and reported missing.
func testTouchRace(t *testing.T, ix blockstore.PackIndex) {
	ctx := t.Context()
	const n = 400
	MustAddPack(t, ix, "p", entries(0, n))
	seq := mustSeq(t, ix)
	hs := make([][]byte, n)
	for i := range hs {
		hs[i] = Hash(i)
	}
	var wg sync.WaitGroup
	touched := make([]bool, n)
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < n; i += 4 {
				missing, err := ix.Touch(ctx, [][]byte{hs[i]})
				if err != nil {
					t.Errorf("Touch: %v", err)
					return
				}
				touched[i] = len(missing) == 0
			}
		})
	}
	var removed int
	wg.Go(func() {
		for i := 0; i < n; i += 50 {
			k, _, err := ix.DeleteUnchanged(ctx, hs[i:i+50], seq)
			if err != nil {
				t.Errorf("DeleteUnchanged: %v", err)
				return
			}
			removed += k
		}
	})
	wg.Wait()
	kept := 0
	for i, h := range hs {
		_, err := ix.Lookup(ctx, h)
		switch {
		case err == nil && !touched[i]:
			t.Fatalf("block %d is there but its Touch said missing", i)
		case errors.Is(err, blockstore.ErrNoBlock) && touched[i]:
			t.Fatalf("block %d was touched and then removed", i)
		case err == nil:
			kept++
		case !errors.Is(err, blockstore.ErrNoBlock):
			t.Fatal(err)
		}
	}
	if kept+removed != n {
		t.Fatalf("kept %d + removed %d, want %d", kept, removed, n)
	}
}

func mustSeq(tb testing.TB, ix blockstore.PackIndex) int64 {
	tb.Helper()
	s, err := ix.Seq(tb.Context())
	if err != nil {
		tb.Fatalf("Seq: %v", err)
	}
	return s
}
