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
package gc

import (
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
	// beat is when the node last saved itself in the store (see Alive).
	beat atomic.Pointer[time.Time]
}

// NewGuard returns a Guard over bs that keeps the block lists of
// incomplete uploads in keeps.
func NewGuard(bs tackbs.Store, keeps tack.UploadKeepStore) (*Guard, error) {
	g := &Guard{bs: bs, keeps: keeps, sessions: map[*Session]struct{}{}}
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

// hashKey is the key under which a collection compares blocks: 64 bits
// of xxhash of the multihash. Two blocks whose keys collide both count as
// live, so a collision can only keep garbage, never free a needed block.
func hashKey(c cid.Cid) uint64 { return xxhash.Sum64(c.Hash()) }

// Session is a blockstore.Blockstore that records the blocks it stores
// and the blocks it finds stored, so that no collection frees them while
// the session is open.
type Session struct {
	g      *Guard
	mu     sync.Mutex
	seen   []uint64
	closed bool
	fenced bool // the node was out of touch with the others while it was open
}

var _ blockstore.Blockstore = (*Session)(nil)

// record notes that the session uses the blocks. The caller holds g.mu
// for reading.
func (s *Session) record(cs ...cid.Cid) {
	s.mu.Lock()
	for _, c := range cs {
		s.seen = append(s.seen, hashKey(c))
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
func (s *Session) use(ctx context.Context, cs ...cid.Cid) error {
	if err := s.live(); err != nil {
		return err
	}
	s.record(cs...)
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

// Close ends the session. Its blocks are then protected only by the DAGs
// the store needs (or, for an incomplete upload, by Keep).
func (s *Session) Close() {
	s.g.smu.Lock()
	delete(s.g.sessions, s)
	s.g.smu.Unlock()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

// snapshot returns the blocks the session recorded so far.
func (s *Session) snapshot() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]uint64(nil), s.seen...)
}

// Keep records the session's blocks in the keep list of the content key,
// in the metadata store: while a request for that DAG is queued or
// pinning, a collection on any node keeps them, even those that no stored
// block links to yet (the shards of a large upload arrive in any order).
// Lists of DAGs no longer wanted are removed by the next collection.
func (s *Session) Keep(ctx context.Context, key string) error {
	keys := s.snapshot()
	if len(keys) == 0 {
		return nil
	}
	if err := s.g.keeps.KeepUpload(ctx, key, keys); err != nil {
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
		hashes := make([]uint64, 0, len(data)/8)
		for i := 0; i+8 <= len(data); i += 8 {
			hashes = append(hashes, binary.LittleEndian.Uint64(data[i:]))
		}
		if err := keeps.KeepUpload(ctx, key, hashes); err != nil {
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
		if err := s.use(ctx, c); err != nil {
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
		if err := s.use(ctx, c); ipld.IsNotFound(err) {
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
		if err := s.use(ctx, c); err != nil {
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
	s.record(cs...)
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

// DeleteBlock is refused: only a collection deletes blocks.
func (s *Session) DeleteBlock(ctx context.Context, c cid.Cid) error {
	return fmt.Errorf("gc: a session does not delete blocks (%s)", c)
}

// AllKeysChan lists the blockstore's blocks.
func (s *Session) AllKeysChan(ctx context.Context) (<-chan cid.Cid, error) {
	return s.g.bs.AllKeysChan(ctx)
}
