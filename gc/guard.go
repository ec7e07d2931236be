// Package gc frees the blocks that no pin needs any more (Collect), and
// finds pinned DAGs whose blocks went missing (Verify).
//
// Collection is mark and sweep, and runs while fetches, uploads and new
// pins go on. Whatever writes blocks does so through a Session of the
// Guard, which records every block the session stores or finds stored. A
// block is freed only if it is not reachable from a DAG the store still
// needs, was not recorded by a session that was open when the collection
// began, and was not recorded by any session since. Recording and
// deleting exclude each other (the Guard's lock), so a session that finds
// a block has it until the session ends.
//
// An upload that fails takes back the blocks it stored new (Undo): those
// that were not stored when it stored them and that no other session has
// stored or found since. A block another session relies on was recorded by
// it, and so taken off the upload's list, before the session could rely on
// it; the Schedule runs a collection soon for whatever is left.
package gc

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/tack-ipfs/tack"

	tackbs "github.com/tack-ipfs/tack/blockstore"
	"github.com/tack-ipfs/tack/internal/chunked"
)

// Guard wraps the blockstore that fetches and uploads write to.
type Guard struct {
	bs tackbs.Store

	// keeps holds, per content key, the blocks that uploads stored toward
	// a DAG not yet complete (see Session.Keep), in the metadata store.
	keeps tack.UploadKeepStore

	// mu is held for reading while a session looks up or stores a block
	// and records it, and for writing while a sweep checks and deletes a
	// batch of blocks, and while a collection starts or ends.
	mu       sync.RWMutex
	sessions map[*Session]struct{} // open sessions; under smu
	smu      sync.Mutex

	// touched, while a collection runs, holds every block recorded by any
	// session since it began; nil otherwise. Set under mu held for
	// writing; filled under tmu with mu held for reading.
	touched map[uint64]struct{}
	tmu     sync.Mutex

	running sync.Mutex // one collection at a time

	// shared is bs when several nodes share it (see Shared), else nil.
	shared Shared
	// joined is the epoch of the other node's collection this node has
	// joined, 0 for none. Changed under mu held for writing, read under
	// mu held for reading.
	joined int64
	// cluster, when set, makes Collect coordinate with the other nodes;
	// run is the coordination of the collection running, if any (under
	// running).
	cluster *Cluster
	run     *clusterRun
	// stats counts the collections (see Stats); under statsMu.
	stats   tack.GCStats
	statsMu sync.Mutex
	// beat is when the node last saved itself in the store (see Alive).
	beat atomic.Pointer[time.Time]

	// What an upload that fails may take back (see UploadSession), under
	// fmu: putting counts the sessions storing each block right now (with
	// putShared set once two overlapped), and fresh names the blocks that
	// an upload session stored new, by that session, or by nil once any
	// other session stored or found them too.
	fmu     sync.Mutex
	putting map[uint64]uint32
	fresh   map[uint64]*Session

	// Garbage, if set, is called when an upload session ends having left
	// blocks it stored that nothing may need (see Session.Undo), for a
	// collection to free soon.
	Garbage func()
}

// blockHaver is a blockstore that can tell whether it holds a block at
// the cost of one lookup, knowing the block's size (blockstore.Local).
type blockHaver interface {
	HasBlock(ctx context.Context, b blocks.Block) (bool, error)
}

// putShared marks, in Guard.putting, a block that two sessions stored at
// once.
const putShared = 1 << 31

// maxUndo is how many blocks one upload session remembers storing new,
// to delete them again if the upload fails: about 60 bytes each (its
// record in the session's newLog and its entry in Guard.fresh), 4 MiB
// at most; 64 MiB of 1 KiB blocks, 16 GiB of 256 KiB ones. Blocks past
// it are left to the collection that Guard.Garbage asks for. (At 1<<18,
// a 1 GiB CAR of 1 KiB blocks held 12 MiB more, which the heap's room
// for garbage doubles in the peak RSS.)
const maxUndo = 1 << 16

// NewGuard returns a Guard over bs that keeps the block lists of
// incomplete uploads in keeps.
func NewGuard(bs tackbs.Store, keeps tack.UploadKeepStore) (*Guard, error) {
	g := &Guard{bs: bs, keeps: keeps, sessions: map[*Session]struct{}{},
		putting: map[uint64]uint32{}, fresh: map[uint64]*Session{}}
	g.shared, _ = bs.(Shared)
	return g, nil
}

// Blockstore returns the blockstore the Guard wraps.
func (g *Guard) Blockstore() tackbs.Store { return g.bs }

// Session opens a session: use it in place of the blockstore for one
// fetch or upload, and Close it once the outcome is recorded in the
// store.
func (g *Guard) Session() *Session {
	s := &Session{g: g}
	g.smu.Lock()
	g.sessions[s] = struct{}{}
	g.smu.Unlock()
	return s
}

// UploadSession opens a session for an upload that may fail after it
// stored blocks: it also remembers which blocks it stored new (they were
// not stored when it stored them), so that Undo can delete them again.
func (g *Guard) UploadSession() *Session {
	s := g.Session()
	s.undoable = g.shared == nil
	return s
}

// hashKey is the key under which a collection compares blocks: 64 bits
// of xxhash of the multihash. Two blocks whose keys collide both count as
// live, so a collision can only keep garbage, never free a needed block.
func hashKey(c cid.Cid) uint64 { return xxhash.Sum64(c.Hash()) }

// Session is a blockstore.Blockstore that records the blocks it stores
// and the blocks it finds stored, so that no collection frees them while
// the session is open.
type Session struct {
	g  *Guard
	mu sync.Mutex
	// seen and sizes grow by chunks, off the Go heap past the first: an
	// upload of a million blocks records 12 MiB.
	seen   chunked.List[uint64]
	sizes  chunked.List[int32] // of the blocks in seen, 0 if not known
	closed bool
	fenced bool // the node was out of touch with the others while it was open

	// undoable sessions (UploadSession) list in fresh the blocks they
	// stored new, as Guard.fresh names them; fresh and leaked are under
	// Guard.fmu.
	undoable bool
	fresh    newLog
	leaked   bool // stored new blocks past maxUndo
}

var _ blockstore.Blockstore = (*Session)(nil)

// record notes that the session uses the blocks. The caller holds g.mu
// for reading.
func (s *Session) record(cs []cid.Cid, size func(i int) int) {
	s.mu.Lock()
	for i, c := range cs {
		s.seen.Append(hashKey(c))
		s.sizes.Append(int32(size(i)))
	}
	s.mu.Unlock()
	if t := s.g.touched; t != nil {
		s.g.tmu.Lock()
		for _, c := range cs {
			t[hashKey(c)] = struct{}{}
		}
		s.g.tmu.Unlock()
	}
}

// use records blocks found stored. While the node has joined another
// node's collection, it also touches them in the shared blockstore, so
// that that collection's sweep spares them; a block that sweep deleted
// already is reported not found.
func (s *Session) use(ctx context.Context, size int, cs ...cid.Cid) error {
	if err := s.live(); err != nil {
		return err
	}
	s.record(cs, func(int) int { return size })
	s.g.claim(s, cs)
	if s.g.joined == 0 {
		return nil
	}
	missing, err := s.g.shared.Touch(ctx, cs)
	if err != nil {
		return fmt.Errorf("gc: touch: %w", err)
	}
	if len(missing) > 0 {
		return ipld.ErrNotFound{Cid: missing[0]}
	}
	return nil
}

// claim notes that session s uses the blocks: any of them that an
// upload session stored new is no longer that session's to take back.
// The caller holds g.mu for reading.
func (g *Guard) claim(s *Session, cs []cid.Cid) {
	g.fmu.Lock()
	defer g.fmu.Unlock()
	if len(g.fresh) == 0 {
		return
	}
	for _, c := range cs {
		h := hashKey(c)
		if o, ok := g.fresh[h]; ok && o != s {
			g.fresh[h] = nil
		}
	}
}

// Close ends the session. Its blocks are then protected only by the DAGs
// the store needs (or, for an incomplete upload, by Keep).
func (s *Session) Close() {
	s.g.smu.Lock()
	delete(s.g.sessions, s)
	s.g.smu.Unlock()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.forget()
}

// forget drops the session's claims to take blocks back.
func (s *Session) forget() {
	if !s.undoable {
		return
	}
	s.g.fmu.Lock()
	s.fresh.each(func(mh []byte, _ int) {
		h := xxhash.Sum64(mh)
		if o, ok := s.g.fresh[h]; ok && (o == s || o == nil) {
			delete(s.g.fresh, h)
		}
	})
	s.fresh = newLog{}
	s.g.fmu.Unlock()
}

// Abandon says that the session's work failed after the store came to
// name its blocks (a DAG recorded, a keep list), so that Undo may not run:
// what it stored is left to a collection, which Guard.Garbage is asked
// for.
func (s *Session) Abandon() {
	if s.g.Garbage != nil {
		s.g.Garbage()
	}
}

// Undo deletes the blocks that the session stored new, for an upload
// that failed before it recorded anything in the store (no DAG, no keep
// list): those that no other session has stored or found since, and
// which therefore nothing else can need. A block that was stored before
// the session stored it is never deleted. It returns how many blocks it
// deleted; the blocks it had to leave (stored by another session too, or
// past maxUndo, or on a blockstore shared with other nodes, whose
// sessions this Guard does not see) are left to the next collection,
// which Guard.Garbage is asked for. Call Undo before Close, once no
// write of the session is under way.
func (s *Session) Undo(ctx context.Context) (int, error) {
	g := s.g
	left := !s.undoable
	defer func() {
		if left && g.Garbage != nil {
			g.Garbage()
		}
	}()
	if !s.undoable {
		return 0, nil
	}
	// No session records or stores a block meanwhile, and no sweep runs.
	g.mu.Lock()
	defer g.mu.Unlock()
	g.fmu.Lock()
	left = left || s.leaked
	var dead newLog // of s.fresh, those still s's alone
	s.fresh.each(func(mh []byte, size int) {
		h := xxhash.Sum64(mh)
		if g.fresh[h] == s {
			dead.add(mh, size)
		} else {
			left = true
		}
		delete(g.fresh, h)
	})
	s.fresh = newLog{}
	g.fmu.Unlock()
	// Deleted a batch at a time, so that the list of blocks to delete
	// stays compact.
	n := 0
	batch := make([]tackbs.Stored, 0, min(dead.n, undoBatch))
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := g.bs.DeleteStored(ctx, batch); err != nil {
			return err
		}
		n += len(batch)
		batch = batch[:0]
		return nil
	}
	var err error
	dead.each(func(mh []byte, size int) {
		if err != nil {
			return
		}
		batch = append(batch, tackbs.Stored{Cid: cid.NewCidV1(cid.Raw, mh), Size: size, Small: size <= tackbs.SmallBlock})
		if len(batch) == undoBatch {
			err = flush()
		}
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		left = true
		return n, fmt.Errorf("gc: deleting the blocks of a failed upload: %w", err)
	}
	return n, nil
}

// undoBatch is how many blocks Undo deletes at a time.
const undoBatch = 4096

// snapshot returns the blocks the session recorded so far.
func (s *Session) snapshot() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen.AppendTo(make([]uint64, 0, s.seen.Len()))
}

// Keep records the session's blocks in the keep list of the content key
// for the account, in the metadata store: while the account has a request
// for that DAG queued or pinning, a collection on any node keeps them,
// even those that no stored block links to yet (the shards of a large
// upload arrive in any order), and their sizes count against the
// account's storage limit. Lists of DAGs no longer wanted are removed by
// the store, or by the next collection.
func (s *Session) Keep(ctx context.Context, accountID int64, key string) error {
	s.mu.Lock()
	kept := make([]tack.KeptBlock, s.seen.Len())
	for i := range kept {
		kept[i] = tack.KeptBlock{Hash: s.seen.At(i), Size: int64(s.sizes.At(i))}
	}
	s.mu.Unlock()
	if len(kept) == 0 {
		return nil
	}
	// A block recorded more than once counts once, with the size known.
	slices.SortFunc(kept, func(a, b tack.KeptBlock) int {
		if c := cmp.Compare(a.Hash, b.Hash); c != 0 {
			return c
		}
		return -cmp.Compare(a.Size, b.Size)
	})
	kept = slices.CompactFunc(kept, func(a, b tack.KeptBlock) bool { return a.Hash == b.Hash })
	if err := s.g.keeps.KeepUpload(ctx, accountID, key, kept); err != nil {
		return fmt.Errorf("gc: keep: %w", err)
	}
	return nil
}

// ImportKeepFiles moves the keep lists an older tack wrote as files,
// dir/<key>.keep of 64-bit hashes, into keeps, and removes the files and
// then dir. It returns how many lists it moved. A missing dir is nothing
// to move.
func ImportKeepFiles(ctx context.Context, dir string, keeps tack.UploadKeepStore) (int, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	} else if err != nil {
		return 0, fmt.Errorf("gc: %w", err)
	}
	n := 0
	for _, e := range entries {
		key, ok := strings.CutSuffix(e.Name(), ".keep")
		if !ok {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			return n, fmt.Errorf("gc: %w", err)
		}
		kept := make([]tack.KeptBlock, 0, len(data)/8)
		for i := 0; i+8 <= len(data); i += 8 {
			kept = append(kept, tack.KeptBlock{Hash: binary.LittleEndian.Uint64(data[i:])})
		}
		// They name no account, and count for none.
		if err := keeps.KeepUpload(ctx, 0, key, kept); err != nil {
			return n, fmt.Errorf("gc: importing %s: %w", path, err)
		}
		if err := os.Remove(path); err != nil {
			return n, fmt.Errorf("gc: %w", err)
		}
		n++
	}
	if err := os.Remove(dir); err != nil {
		return n, fmt.Errorf("gc: %w", err)
	}
	return n, nil
}

// Get returns a block and records it.
func (s *Session) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	s.g.mu.RLock()
	defer s.g.mu.RUnlock()
	b, err := s.g.bs.Get(ctx, c)
	if err == nil {
		if err := s.use(ctx, len(b.RawData()), c); err != nil {
			return nil, err
		}
	}
	return b, err
}

// Has tells whether the block is stored and, if it is, records it.
func (s *Session) Has(ctx context.Context, c cid.Cid) (bool, error) {
	s.g.mu.RLock()
	defer s.g.mu.RUnlock()
	ok, err := s.g.bs.Has(ctx, c)
	if ok && err == nil {
		if err := s.use(ctx, 0, c); ipld.IsNotFound(err) {
			return false, nil
		} else if err != nil {
			return false, err
		}
	}
	return ok, err
}

// GetSize returns a block's size and, if it is stored, records it.
func (s *Session) GetSize(ctx context.Context, c cid.Cid) (int, error) {
	s.g.mu.RLock()
	defer s.g.mu.RUnlock()
	n, err := s.g.bs.GetSize(ctx, c)
	if err == nil {
		if err := s.use(ctx, n, c); err != nil {
			return 0, err
		}
	}
	return n, err
}

// Put records and stores a block.
func (s *Session) Put(ctx context.Context, b blocks.Block) error {
	return s.PutMany(ctx, []blocks.Block{b})
}

// PutMany records and stores blocks.
func (s *Session) PutMany(ctx context.Context, bs []blocks.Block) error {
	if err := s.live(); err != nil {
		return err
	}
	s.g.mu.RLock()
	defer s.g.mu.RUnlock()
	cs := make([]cid.Cid, len(bs))
	for i, b := range bs {
		cs[i] = b.Cid()
	}
	s.record(cs, func(i int) int { return len(bs[i].RawData()) })
	done, err := s.g.beginPut(ctx, s, bs)
	if err != nil {
		return err
	}
	defer done()
	if s.g.joined != 0 {
		missing, err := s.g.shared.Touch(ctx, cs)
		if err != nil || len(missing) == 0 {
			return err
		}
		if len(missing) < len(bs) {
			put := make(map[cid.Cid]bool, len(missing))
			for _, c := range missing {
				put[c] = true
			}
			bs = slices.DeleteFunc(slices.Clone(bs), func(b blocks.Block) bool { return !put[b.Cid()] })
		}
	}
	return s.g.bs.PutMany(ctx, bs)
}

// beginPut notes that session s is about to store bs, and returns what
// notes that it is done. The caller holds g.mu for reading, has recorded
// the blocks, and stores them between the two: any block that an upload
// session stored new is no longer that session's to take back, and two
// sessions that store a block at once share it. An undoable s also finds
// which of bs are not stored yet (a read each), and lists those no other
// session is storing as its own, new.
func (g *Guard) beginPut(ctx context.Context, s *Session, bs []blocks.Block) (done func(), err error) {
	hs := make([]uint64, len(bs))
	g.fmu.Lock()
	for i, b := range bs {
		h := hashKey(b.Cid())
		hs[i] = h
		if n, ok := g.putting[h]; ok {
			g.putting[h] = (n + 1) | putShared
		} else {
			g.putting[h] = 1
		}
		if o, ok := g.fresh[h]; ok && o != s {
			g.fresh[h] = nil
		}
	}
	room := maxUndo - s.fresh.n
	g.fmu.Unlock()
	done = func() {
		g.fmu.Lock()
		for _, h := range hs {
			if n := g.putting[h] - 1; n&^putShared == 0 {
				delete(g.putting, h)
			} else {
				g.putting[h] = n
			}
		}
		g.fmu.Unlock()
	}
	if !s.undoable {
		return done, nil
	}
	// Which are new? A block stored before now stays stored while s
	// holds it (it is recorded), so the answer holds until s is done.
	var absent []int
	leaked := false
	for i, b := range bs {
		if len(absent) >= room {
			leaked = true
			break
		}
		var ok bool
		var err error
		if bh, can := g.bs.(blockHaver); can {
			ok, err = bh.HasBlock(ctx, b)
		} else {
			ok, err = g.bs.Has(ctx, b.Cid())
		}
		if err != nil {
			done()
			return nil, fmt.Errorf("gc: %w", err)
		}
		if !ok {
			absent = append(absent, i)
		}
	}
	g.fmu.Lock()
	s.leaked = s.leaked || leaked
	for _, i := range absent {
		h := hs[i]
		if g.putting[h]&putShared != 0 {
			continue // another session stores it too
		}
		if _, ok := g.fresh[h]; ok {
			g.fresh[h] = nil // another upload's, new to it too
			continue
		}
		g.fresh[h] = s
		s.fresh.add(bs[i].Cid().Hash(), len(bs[i].RawData()))
	}
	g.fmu.Unlock()
	return done, nil
}

// DeleteBlock is refused: only a collection deletes blocks.
func (s *Session) DeleteBlock(ctx context.Context, c cid.Cid) error {
	return fmt.Errorf("gc: a session does not delete blocks (%s)", c)
}

// AllKeysChan lists the blockstore's blocks.
func (s *Session) AllKeysChan(ctx context.Context) (<-chan cid.Cid, error) {
	return s.g.bs.AllKeysChan(ctx)
}
