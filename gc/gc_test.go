package gc_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/blockstore"
	"github.com/tack-ipfs/tack/gc"
	"github.com/tack-ipfs/tack/internal/cartest"
	"github.com/tack-ipfs/tack/internal/testpeer"
	"github.com/tack-ipfs/tack/sqlite"
	"github.com/tack-ipfs/tack/sqlite/sqlitetest"
	"github.com/tack-ipfs/tack/storetest"
)

// env is a blockstore on disk and a store, with a Guard over them, and a
// peer whose blockstore plays the network: DAGs are made there and
// "fetched" into tack's blockstore through sessions.
type env struct {
	t     *testing.T
	dir   string
	bs    *blockstore.Local
	db    *sqlite.DB
	guard *gc.Guard
	peer  *testpeer.Peer
	acct  *tack.Account
}

func newEnv(t *testing.T) *env {
	dir := t.TempDir()
	bs, err := blockstore.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bs.Close() })
	db := sqlitetest.MustOpen(t)
	guard, err := gc.NewGuard(bs, db)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, dir: dir, bs: bs, db: db, guard: guard, peer: testpeer.New(t), acct: storetest.MustCreateAccount(t, db, "gc@example.com")}
}

// join makes a dag-cbor node on the peer that links to cs.
func (e *env) join(cs ...cid.Cid) cid.Cid { return e.peer.AddLinks(e.t, cs...) }

// fetch copies the DAG from the peer through a session as the pinner
// does: a block already held is read and not fetched. It returns the
// session, still open.
func (e *env) fetch(root cid.Cid) *gc.Session {
	s := e.guard.Session()
	cs, err := testpeer.AllCIDs(context.Background(), e.peer.Blockstore(), root)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, c := range cs {
		if ok, err := s.Has(context.Background(), c); err != nil {
			e.t.Fatal(err)
		} else if ok {
			continue
		}
		b, err := e.peer.Blockstore().Get(context.Background(), c)
		if err != nil {
			e.t.Fatal(err)
		}
		if err := s.Put(context.Background(), b); err != nil {
			e.t.Fatal(err)
		}
	}
	return s
}

// pin stores a request for root and, if the DAG is not held, fetches it
// and records it whole, as the API and the pinner do.
func (e *env) pin(root cid.Cid) *tack.PinRequest {
	r := &tack.PinRequest{AccountID: e.acct.ID, Pin: tack.Pin{CID: root.String()}, Key: tack.ContentKey(root)}
	if err := e.db.CreatePin(context.Background(), r); err != nil {
		e.t.Fatal(err)
	}
	if r.Status == tack.StatusPinned {
		return r
	}
	s := e.fetch(root)
	defer s.Close()
	if err := e.db.CompleteDAG(context.Background(), &tack.DAG{Key: r.Key, Blocks: 1, Bytes: 1}); err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) unpin(r *tack.PinRequest) {
	if err := e.db.DeletePin(context.Background(), e.acct.ID, r.ID); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) collect() gc.Report {
	rep, err := e.guard.Collect(context.Background(), e.db)
	if err != nil {
		e.t.Fatalf("Collect: %v", err)
	}
	e.t.Logf("collect: %s", rep)
	return rep
}

// held fails the test unless every block of the DAG is in tack's
// blockstore.
func (e *env) held(what string, root cid.Cid) {
	e.t.Helper()
	if _, err := testpeer.AllCIDs(context.Background(), e.bs, root); err != nil {
		e.t.Errorf("%s: %v", what, err)
	}
}

func (e *env) count() int {
	ch, err := e.bs.AllKeysChan(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for range ch {
		n++
	}
	return n
}

func (e *env) blocks(root cid.Cid) int {
	cs, err := testpeer.AllCIDs(context.Background(), e.peer.Blockstore(), root)
	if err != nil {
		e.t.Fatal(err)
	}
	return len(cs)
}

func TestCollect(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	start, startLog := e.diskUse()
	a := e.peer.AddFile(t, 4<<20, 64<<10, 1)     // large blocks: flatfs
	c := e.peer.AddFile(t, 1<<20, 1<<10, 1)      // small blocks: pebble
	b := e.join(a, c)                            // B holds A and C
	old := e.peer.AddFile(t, 256<<10, 16<<10, 0) // dag-pb leaves
	ra, rb, rold := e.pin(a), e.pin(b), e.pin(old)
	all := e.blocks(b) + e.blocks(old)
	if n := e.count(); n != all {
		t.Fatalf("%d blocks stored, want %d", n, all)
	}
	if rep := e.collect(); rep.Freed != 0 {
		t.Errorf("a collection with every DAG pinned freed %d blocks", rep.Freed)
	}

	e.unpin(ra)
	if rep := e.collect(); rep.Freed != 0 {
		t.Errorf("A is still in B, yet %d blocks were freed", rep.Freed)
	}
	e.held("A, pinned inside B", a)

	e.unpin(rold)
	if rep := e.collect(); rep.Freed != e.blocks(old) || rep.Forgotten != 1 || rep.FreedSize == 0 {
		t.Errorf("after unpinning OLD: freed %d blocks (%d bytes), forgot %d; want %d blocks, 1", rep.Freed, rep.FreedSize, rep.Forgotten, e.blocks(old))
	}
	e.held("B", b)

	// A request for a forgotten DAG is fetched again, not pinned on the
	// strength of a record whose blocks are gone.
	if r := e.pin(old); r.Status != tack.StatusQueued {
		t.Errorf("request for a collected DAG: %s, want queued", r.Status)
	}
	e.held("OLD, fetched again", old)

	e.unpin(rb)
	for _, r := range e.all() {
		e.unpin(r)
	}
	e.collect()
	if n := e.count(); n != 0 {
		t.Errorf("%d blocks left after every pin was deleted and collected", n)
	}
	// Pebble deletes the files that a compaction made obsolete in the
	// background.
	end, endLog := e.diskUse()
	for deadline := time.Now().Add(5 * time.Second); end > start+64<<10 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		end, endLog = e.diskUse()
	}
	t.Logf("disk use: %d bytes at the start, %d after the collection; Pebble's write-ahead logs %d, then %d", start, end, startLog, endLog)
	if end > start+64<<10 {
		t.Errorf("disk use is %d bytes after every pin was deleted and collected, %d at the start", end, start)
		filepath.WalkDir(e.dir, func(path string, d fs.DirEntry, err error) error {
			if info, err := d.Info(); err == nil && !d.IsDir() {
				t.Logf("%s %d", path, info.Size())
			}
			return nil
		})
	}
}

// diskUse returns the bytes of the blockstore's files on disk, and apart
// from them those of Pebble's write-ahead logs, which it keeps for reuse
// (their size is bounded by its memtables, whatever is stored).
func (e *env) diskUse() (data, logs int64) {
	err := filepath.WalkDir(e.dir, func(path string, d fs.DirEntry, err error) error {
		// Pebble's compactions delete files while the walk goes on.
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		} else if err != nil {
			return err
		}
		if strings.HasSuffix(path, ".log") {
			logs += info.Size()
		} else {
			data += info.Size()
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return data, logs
}

func TestCollectSpareSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	d := e.peer.AddFile(t, 512<<10, 16<<10, 1)
	s := e.fetch(d) // a fetch that has not recorded its DAG yet
	if rep := e.collect(); rep.Freed != 0 {
		t.Errorf("a collection freed %d blocks of an open session", rep.Freed)
	}
	e.held("the open session's DAG", d)
	s.Close()
	if rep := e.collect(); rep.Freed != e.blocks(d) {
		t.Errorf("after the session closed with nothing recorded, freed %d blocks, want %d", rep.Freed, e.blocks(d))
	}
}

func TestCollectReplace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	shared := e.peer.AddFile(t, 1<<20, 64<<10, 1)
	old := e.join(shared, e.peer.AddFile(t, 64<<10, 16<<10, 1))
	ro := e.pin(old)

	// The new DAG shares a file with the old one, and is not fetched yet.
	next := e.join(shared, e.peer.AddFile(t, 64<<10, 16<<10, 1))
	rn := &tack.PinRequest{Pin: tack.Pin{CID: next.String()}, Key: tack.ContentKey(next)}
	if err := e.db.ReplacePin(context.Background(), e.acct.ID, ro.ID, rn); err != nil {
		t.Fatal(err)
	}
	if rep := e.collect(); rep.Freed != 0 {
		t.Errorf("a collection during a replace freed %d blocks", rep.Freed)
	}
	e.held("the replaced DAG, while its replacement is queued", old)

	s := e.fetch(next)
	if err := e.db.CompleteDAG(context.Background(), &tack.DAG{Key: rn.Key, Blocks: 1, Bytes: 1}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	rep := e.collect()
	if want := e.blocks(old) - e.blocks(shared); rep.Freed != want {
		t.Errorf("once the replacement is pinned, freed %d blocks, want %d (the old DAG less the shared file)", rep.Freed, want)
	}
	e.held("the replacement", next)
}

func TestCollectKeepsIncompleteUploads(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	leaves := e.peer.AddFile(t, 256<<10, 16<<10, 1)
	root := e.join(leaves, e.peer.AddFile(t, 64<<10, 16<<10, 1))

	// An upload of a shard that holds the file but not the root: no
	// stored block links to it yet.
	s := e.fetch(leaves)
	key := tack.ContentKey(root)
	if err := s.Keep(context.Background(), e.acct.ID, key); err != nil {
		t.Fatal(err)
	}
	r := &tack.PinRequest{AccountID: e.acct.ID, Pin: tack.Pin{CID: root.String()}, Key: key}
	if err := e.db.CreatePin(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if rep := e.collect(); rep.Freed != 0 {
		t.Errorf("freed %d blocks of an incomplete upload whose request is queued", rep.Freed)
	}
	e.held("the uploaded shard", leaves)
	e.unpin(r)
	if rep := e.collect(); rep.Freed != e.blocks(leaves) {
		t.Errorf("after the request was deleted, freed %d blocks, want %d", rep.Freed, e.blocks(leaves))
	}
}

// TestCollectConcurrent pins, unpins and pins again DAGs that share
// blocks while collections run back to back. Every DAG pinned at the end
// must be whole.
func TestCollectConcurrent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	shared := e.peer.AddFile(t, 1<<20, 1<<10, 1)
	var roots []cid.Cid
	for range 6 {
		roots = append(roots, e.join(shared, e.peer.AddFile(t, 64<<10, 1<<10, 1)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var pins, collections atomic.Int64
	for w := range 4 {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(w), 1))
			for ctx.Err() == nil {
				root := roots[rnd.IntN(len(roots))]
				r := e.pin(root)
				pins.Add(1)
				// Only this worker deletes its requests: while it holds
				// one, the DAG is pinned, and must be whole.
				e.held("a DAG just pinned, with collections running", root)
				if ctx.Err() == nil {
					e.unpin(r)
				}
			}
		})
	}
	wg.Go(func() {
		for ctx.Err() == nil {
			if _, err := e.guard.Collect(context.Background(), e.db); err != nil {
				t.Error(err)
				return
			}
			collections.Add(1)
		}
	})
	wg.Wait()
	t.Logf("%d pins, %d collections", pins.Load(), collections.Load())
	if collections.Load() < 3 {
		t.Fatalf("only %d collections ran", collections.Load())
	}
	pinned := 0
	for _, r := range e.all() {
		if r.Status != tack.StatusPinned {
			continue
		}
		pinned++
		c, _ := cid.Decode(r.Pin.CID)
		e.held("pinned "+r.Pin.CID, c)
	}
	if pinned == 0 {
		t.Fatal("nothing pinned at the end")
	}
	e.collect()
	for _, r := range e.all() {
		c, _ := cid.Decode(r.Pin.CID)
		e.held("pinned "+r.Pin.CID+" after a last collection", c)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	whole := e.peer.AddFile(t, 256<<10, 16<<10, 1)
	lost := e.peer.AddFile(t, 256<<10, 16<<10, 1)
	damaged := e.join(e.peer.AddFile(t, 64<<10, 16<<10, 1))
	for _, c := range []cid.Cid{whole, lost, damaged} {
		e.pin(c)
	}
	// Behind tack's back: a leaf goes missing, and a node's data changes.
	cs, _ := testpeer.AllCIDs(context.Background(), e.bs, lost)
	if err := e.bs.DeleteBlock(context.Background(), cs[len(cs)-1]); err != nil {
		t.Fatal(err)
	}
	bad, _ := blocks.NewBlockWithCid([]byte("not what was stored"), damaged)
	if err := e.bs.Put(context.Background(), bad); err != nil {
		t.Fatal(err)
	}

	rep, err := gc.Verify(context.Background(), e.db, e.bs, nil, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("verify: %s", rep)
	if rep.DAGs != 3 || len(rep.Broken) != 2 || rep.Requeued != 2 {
		t.Errorf("Verify = %d DAGs, broken %v, %d requeued; want 3, the lost and the damaged, 2", rep.DAGs, rep.Broken, rep.Requeued)
	}
	for _, r := range e.all() {
		want := tack.StatusPinned
		if r.Pin.CID != whole.String() {
			want = tack.StatusQueued
		}
		if r.Status != want {
			t.Errorf("request for %s: %s, want %s (%s)", r.Pin.CID, r.Status, want, r.Details)
		}
		if want == tack.StatusQueued && r.Details == "" {
			t.Errorf("requeued request for %s says nothing of why", r.Pin.CID)
		}
	}
	if ok, _ := e.bs.Has(context.Background(), damaged); ok {
		t.Errorf("the damaged block is still stored")
	}
	if rep, err := gc.Verify(context.Background(), e.db, e.bs, nil, testLogger(t)); err != nil || rep.DAGs != 1 || len(rep.Broken) != 0 {
		t.Errorf("second Verify = %s, %v; want 1 DAG, none broken", rep, err)
	}
}

// all returns every request of the account.
func (e *env) all() []*tack.PinRequest {
	pins, _ := storetest.MustFindPins(e.t, e.db, tack.PinFilter{AccountID: e.acct.ID, Limit: tack.MaxListLimit})
	return pins
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), nil))
}

// Keep lists an older tack wrote as files move into the store, where every
// node's collections read them, and the files go.
func TestImportKeepFiles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := sqlitetest.MustOpen(t)
	dir := filepath.Join(t.TempDir(), "keep")
	if n, err := gc.ImportKeepFiles(ctx, dir, db); n != 0 || err != nil {
		t.Fatalf("ImportKeepFiles of a missing directory = %d, %v", n, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 24)
	for i, h := range []uint64{3, 1 << 63, 5} {
		binary.LittleEndian.PutUint64(buf[8*i:], h)
	}
	if err := os.WriteFile(filepath.Join(dir, "bafyold.keep"), buf, 0o600); err != nil {
		t.Fatal(err)
	}
	if n, err := gc.ImportKeepFiles(ctx, dir, db); n != 1 || err != nil {
		t.Fatalf("ImportKeepFiles = %d, %v, want 1 list", n, err)
	}
	var got []uint64
	if err := db.KeptUploadHashes(ctx, "bafyold", func(hs []uint64) error { got = append(got, hs...); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if !slices.Equal(got, []uint64{3, 5, 1 << 63}) {
		t.Errorf("kept after the import: %v", got)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the keep directory is still there: %v", err)
	}
}

// record stores bs in tack's blockstore (not through a session) and a
// pinned request for the DAG of bs[0], as an older tack that had no depth
// limit could have.
func (e *env) record(bs []blocks.Block) *tack.PinRequest {
	e.t.Helper()
	ctx := context.Background()
	if err := e.bs.PutMany(ctx, bs); err != nil {
		e.t.Fatal(err)
	}
	root := bs[0].Cid()
	r := &tack.PinRequest{AccountID: e.acct.ID, Pin: tack.Pin{CID: root.String()}, Key: tack.ContentKey(root)}
	if err := e.db.CreatePin(ctx, r); err != nil {
		e.t.Fatal(err)
	}
	if err := e.db.CompleteDAG(ctx, &tack.DAG{Key: r.Key, Blocks: int64(len(bs)), Bytes: 1}); err != nil {
		e.t.Fatal(err)
	}
	return r
}

// A DAG 200,000 links deep, recorded pinned (by a tack that had no depth
// limit): verify stops at tack.MaxDAGDepth and leaves it pinned, and a
// collection keeps every block of it.
func TestVerifyAndCollectDeepChain(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	chain := cartest.Chain(t, 200_000)
	diamond := cartest.Diamond(t, tack.MaxDAGDepth+1)
	e.record(chain)
	e.record(diamond)
	rep, err := gc.Verify(context.Background(), e.db, e.bs, nil, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("verify: %s", rep)
	if len(rep.TooDeep) != 2 || len(rep.Broken) != 0 || rep.Requeued != 0 {
		t.Errorf("Verify: too deep %v, broken %v, %d requeued; want both too deep, none broken or requeued", rep.TooDeep, rep.Broken, rep.Requeued)
	}
	if rep.Blocks > 2*(tack.MaxDAGDepth+3) {
		t.Errorf("Verify checked %d blocks; it should stop at the limit", rep.Blocks)
	}
	for _, r := range e.all() {
		if r.Status != tack.StatusPinned {
			t.Errorf("request for %s is %s, want still pinned", r.Pin.CID, r.Status)
		}
	}
	crep := e.collect()
	if crep.Freed != 0 || crep.Live != len(chain)+len(diamond) {
		t.Errorf("Collect freed %d, kept %d; want 0 freed, %d kept", crep.Freed, crep.Live, len(chain)+len(diamond))
	}
}

// Undo deletes the blocks an upload session stored new, and only those
// that no other session stored or found since.
func TestUndo(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	bs := make([]blocks.Block, 6)
	for i := range bs {
		bs[i] = cartest.Raw(t, []byte(fmt.Sprintf("block %d", i)))
	}
	before := bs[0] // stored before the upload
	pre := e.guard.Session()
	if err := pre.Put(ctx, before); err != nil {
		t.Fatal(err)
	}
	pre.Close()

	u := e.guard.UploadSession()
	if err := u.PutMany(ctx, bs); err != nil {
		t.Fatal(err)
	}
	// A fetch finds bs[1] and ends (its DAG recorded); another stores
	// bs[2] again and is still open; a third upload stores bs[3] too.
	f := e.guard.Session()
	if _, err := f.Get(ctx, bs[1].Cid()); err != nil {
		t.Fatal(err)
	}
	f.Close()
	g := e.guard.Session()
	defer g.Close()
	if err := g.Put(ctx, bs[2]); err != nil {
		t.Fatal(err)
	}
	u2 := e.guard.UploadSession()
	if ok, err := u2.Has(ctx, bs[3].Cid()); err != nil || !ok {
		t.Fatal(ok, err)
	}
	n, err := u.Undo(ctx)
	u.Close()
	if err != nil || n != 2 {
		t.Errorf("Undo = %d, %v; want 2 (bs[4] and bs[5])", n, err)
	}
	for i, b := range bs {
		ok, err := e.bs.Has(ctx, b.Cid())
		if err != nil {
			t.Fatal(err)
		}
		if want := i < 4; ok != want {
			t.Errorf("block %d stored: %v, want %v", i, ok, want)
		}
	}
	// u2 stored nothing new: its Undo deletes nothing.
	if n, err := u2.Undo(ctx); n != 0 || err != nil {
		t.Errorf("second Undo = %d, %v", n, err)
	}
	u2.Close()
}

// Uploads that fail and take their blocks back, while fetches store and
// find the same blocks and complete: no block a completed fetch relied
// on is ever deleted.
func TestUndoConcurrent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	pool := make([]blocks.Block, 64)
	for i := range pool {
		pool[i] = cartest.Raw(t, []byte(fmt.Sprintf("pooled block %d", i)))
	}
	var (
		mu     sync.Mutex
		relied = map[cid.Cid]bool{}
		wg     sync.WaitGroup
	)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for range 300 {
				pick := make([]blocks.Block, 8)
				for i := range pick {
					pick[i] = pool[r.IntN(len(pool))]
				}
				if w%2 == 0 {
					u := e.guard.UploadSession()
					if err := u.PutMany(ctx, pick); err != nil {
						t.Error(err)
					}
					if _, err := u.Undo(ctx); err != nil {
						t.Error(err)
					}
					u.Close()
					continue
				}
				// A fetch: finds what is stored, stores the rest, and
				// relies on all of it once it closes.
				s := e.guard.Session()
				for _, b := range pick {
					if ok, err := s.Has(ctx, b.Cid()); err != nil {
						t.Error(err)
					} else if !ok {
						if err := s.Put(ctx, b); err != nil {
							t.Error(err)
						}
					}
				}
				mu.Lock()
				for _, b := range pick {
					relied[b.Cid()] = true
				}
				mu.Unlock()
				s.Close()
			}
		}()
	}
	wg.Wait()
	for c := range relied {
		if ok, _ := e.bs.Has(ctx, c); !ok {
			t.Errorf("block %s, which a fetch relied on, was deleted", c)
		}
	}
}

// Undo takes back an upload's new blocks over several of its delete
// batches, small and large (over blockstore.SmallBlock) alike, with
// their sizes, and only maxUndo of them: the rest is left to a
// collection, which it asks for.
func TestUndoMany(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	asked := 0
	e.guard.Garbage = func() { asked++ }
	n := gc.UndoBatch*2 + 5
	bs := make([]blocks.Block, n)
	for i := range bs {
		data := []byte(fmt.Sprintf("block %d", i))
		if i%1000 == 0 {
			data = append(data, make([]byte, blockstore.SmallBlock+i)...)
		}
		bs[i] = cartest.Raw(t, data)
	}
	u := e.guard.UploadSession()
	for b := range slices.Chunk(bs, 512) {
		if err := u.PutMany(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	got, err := u.Undo(ctx)
	u.Close()
	if err != nil || got != n {
		t.Fatalf("Undo = %d, %v; want %d", got, err, n)
	}
	for i, b := range bs {
		if ok, err := e.bs.Has(ctx, b.Cid()); err != nil || ok {
			t.Fatalf("block %d: Has = %v, %v after Undo", i, ok, err)
		}
	}
	if asked != 0 {
		t.Errorf("Undo that took everything back asked for %d collections", asked)
	}

	// Past maxUndo, the rest is the collection's.
	u = e.guard.UploadSession()
	over := make([]blocks.Block, gc.MaxUndo+3)
	for i := range over {
		over[i] = cartest.Raw(t, []byte(fmt.Sprintf("over %d", i)))
	}
	for b := range slices.Chunk(over, 4096) {
		if err := u.PutMany(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	got, err = u.Undo(ctx)
	u.Close()
	if err != nil || got != gc.MaxUndo {
		t.Fatalf("Undo = %d, %v; want %d", got, err, gc.MaxUndo)
	}
	if asked != 1 {
		t.Errorf("Undo that left blocks asked for %d collections, want 1", asked)
	}
}
