package upload

import (
	"context"
	"fmt"
	"sync"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/multiformats/go-multihash"

	"github.com/tack-ipfs/tack"
)

// DAGBuilder builds a DAG in an upload, storing each of its blocks with
// sink.Put as it makes them, and returns its root and the options of the
// root's pin request (its name, say, once the builder knows it).
type DAGBuilder func(ctx context.Context, sink *Sink) (root cid.Cid, opts tack.UploadOptions, err error)

// ImportDAG is Import for a DAG that tack builds itself (the unixfs
// package's files and folders) rather than one a client sends as a CAR:
// the blocks that build stores go through the same session, room and
// checks as a CAR's, and the root it returns gets a request of the
// account, pinned if its DAG is whole. If build fails, or the account's
// room runs out (EQUOTA), no request is made and the blocks it stored new
// are deleted again.
func (im *Importer) ImportDAG(ctx context.Context, acct *tack.Account, build DAGBuilder) ([]*tack.PinRequest, error) {
	return im.run(ctx, acct, func(u *upload) ([]cid.Cid, tack.UploadOptions, error) {
		sink := &Sink{u: u}
		root, opts, err := build(ctx, sink)
		if err != nil {
			return nil, opts, err
		}
		roots, err := checkRoots([]cid.Cid{root})
		if err != nil {
			return nil, opts, err
		}
		u.idx.sort()
		return roots, opts, nil
	})
}

// Sink stores the blocks of a DAG that an upload builds: it counts them
// against the account's room and writes them through the upload's
// session. It may be used from several goroutines at once, until the
// DAGBuilder returns.
type Sink struct {
	u  *upload
	mu sync.Mutex
}

// Put checks and stores blocks: each must have a CID tack accepts and be
// no larger than tack.MaxBlockSize (EINVALID), and the upload must stay
// within the account's room (EQUOTA). Identity blocks are not stored.
// Failures of the blockstore are tack.BlockstoreError.
func (s *Sink) Put(ctx context.Context, bs ...blocks.Block) error {
	u := s.u
	store := make([]blocks.Block, 0, len(bs))
	s.mu.Lock()
	for _, b := range bs {
		c := b.Cid()
		if err := checkBlockCID(c, uint64(len(b.RawData()))); err != nil {
			s.mu.Unlock()
			return tack.Errorf(tack.EINVALID, "block %s is refused: %v", c, err)
		}
		u.blocks++
		if c.Prefix().MhType == multihash.IDENTITY {
			continue
		}
		u.bytes += int64(len(b.RawData()))
		if u.room >= 0 && u.bytes > u.room {
			s.mu.Unlock()
			return u.overQuota()
		}
		u.idx.add(c, len(b.RawData()), int(u.blocks-1))
		store = append(store, b)
	}
	s.mu.Unlock()
	if len(store) == 0 {
		return nil
	}
	if err := u.sess.PutMany(ctx, store); err != nil {
		return tack.BlockstoreError{Err: fmt.Errorf("storing blocks: %w", err)}
	}
	return nil
}

// Get returns a block stored already, through the upload's session: one
// of this upload's or any other. A missing block is ipld.ErrNotFound.
func (s *Sink) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	b, err := s.u.sess.Get(ctx, c)
	if err != nil && !ipld.IsNotFound(err) {
		return nil, tack.BlockstoreError{Err: err}
	}
	return b, err
}
