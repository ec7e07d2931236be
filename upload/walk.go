package upload

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sort"

	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/dag"
	"github.com/tack-ipfs/tack/internal/chunked"
)

// maxIndexed is how many blocks of one upload the carIndex remembers (16
// bytes each, 64 MiB at most). Blocks past it are found in the
// blockstore instead, which is slower but the same.
const maxIndexed = 4 << 20

// carIndex remembers the blocks an upload stored, so that the walk that
// follows needs no read for a raw block (which has no links) of the CAR:
// a key, the size and the position of each, sorted by key. The lists grow
// by chunks, off the Go heap past the first (16 MiB for a million
// blocks).
//
// A key is 64 bits of a hash of the multihash under a seed chosen for
// each upload, so that no one can make a missing block collide with a
// stored one; two blocks of one upload collide with a probability of
// about blocks²/2⁶⁴ (10⁻⁷ for a million blocks), and a collision could
// only make a DAG with a missing raw block count as whole.
type carIndex struct {
	seed  maphash.Seed
	keys  chunked.List[uint64]
	sizes chunked.List[uint32]
	pos   chunked.List[uint32] // the block's index in the CAR
}

func newCARIndex() *carIndex { return &carIndex{seed: maphash.MakeSeed()} }

func (x *carIndex) key(c cid.Cid) uint64 { return maphash.Bytes(x.seed, c.Hash()) }

func (x *carIndex) add(c cid.Cid, size, pos int) {
	if x.keys.Len() >= maxIndexed {
		return
	}
	x.keys.Append(x.key(c))
	x.sizes.Append(uint32(size))
	x.pos.Append(uint32(pos))
}

func (x *carIndex) sort() { sort.Sort(x) }

func (x *carIndex) Len() int           { return x.keys.Len() }
func (x *carIndex) Less(i, j int) bool { return x.keys.At(i) < x.keys.At(j) }
func (x *carIndex) Swap(i, j int) {
	x.keys.Swap(i, j)
	x.sizes.Swap(i, j)
	x.pos.Swap(i, j)
}

// find returns where c is in the sorted index, or -1.
func (x *carIndex) find(c cid.Cid) int {
	k := x.key(c)
	n := x.keys.Len()
	i := sort.Search(n, func(i int) bool { return x.keys.At(i) >= k })
	if i == n || x.keys.At(i) != k {
		return -1
	}
	return i
}

// walk follows the DAG of root through the session (which records every
// block it finds, so that no collection frees it) and returns the DAG if
// every block is stored, counting each distinct block once as the pinner
// does, identity blocks included; nil if a block is missing. A block the
// DAG cannot hold (a link to a codec or hash tack refuses, a block that
// does not decode) is EINVALID, and so is a DAG deeper than
// tack.MaxDAGDepth: dag.Depth walks it, reading each block with links
// once whatever the paths to it, and measures the longest path.
func (u *upload) walk(ctx context.Context, root cid.Cid) (*tack.DAG, error) {
	d := &tack.DAG{Key: tack.ContentKey(root)}
	visited := make([]uint64, (u.idx.Len()+63)/64) // of the index
	seen := map[string]struct{}{}                  // of the rest
	// first says whether c is counted for the first time, and its place
	// in the index (-1 if it has none).
	first := func(c cid.Cid) (bool, int) {
		if _, inline := dag.Inline(c); !inline {
			if i := u.idx.find(c); i >= 0 {
				if visited[i/64]&(1<<(i%64)) != 0 {
					return false, i
				}
				visited[i/64] |= 1 << (i % 64)
				return true, i
			}
		}
		if _, ok := seen[string(c.Hash())]; ok {
			return false, -1
		}
		seen[string(c.Hash())] = struct{}{}
		return true, -1
	}
	links := func(c cid.Cid) ([]cid.Cid, error) {
		isNew, i := first(c)
		if b, ok := dag.Inline(c); ok {
			if !isNew {
				return nil, nil
			}
			if err := dag.Check(b); err != nil {
				return nil, tack.Errorf(tack.EINVALID, "the DAG of root %s holds a block tack refuses: %v", root, err)
			}
			d.Blocks++
			d.Bytes += int64(len(b.RawData()))
			links, err := dag.Links(b)
			if err != nil {
				return nil, tack.Errorf(tack.EINVALID, "the DAG of root %s holds a block that cannot be decoded: %v", root, err)
			}
			return checkLinks(c, links)
		}
		where := "a block tack held already"
		if i >= 0 {
			if isNew {
				d.Blocks++
				d.Bytes += int64(u.idx.sizes.At(i))
			}
			if isRaw(c) {
				return nil, nil
			}
			where = fmt.Sprintf("block #%d of the CAR", u.idx.pos.At(i))
		} else if !isNew {
			return nil, nil // a raw block counted already
		} else if isRaw(c) {
			size, err := u.sess.GetSize(ctx, c)
			if ipld.IsNotFound(err) {
				return nil, errMissing
			} else if err != nil {
				return nil, tack.BlockstoreError{Err: err}
			}
			d.Blocks++
			d.Bytes += int64(size)
			return nil, nil
		}
		b, err := u.sess.Get(ctx, c)
		if ipld.IsNotFound(err) {
			return nil, errMissing
		} else if err != nil {
			return nil, tack.BlockstoreError{Err: err}
		}
		if i < 0 {
			d.Blocks++
			d.Bytes += int64(len(b.RawData()))
		}
		links, err := dag.Links(b)
		if err != nil {
			return nil, tack.Errorf(tack.EINVALID, "the DAG of root %s cannot be walked: %s: %v", root, where, err)
		}
		return checkLinks(c, links)
	}
	_, err := dag.Depth(ctx, root, u.idx.key, links)
	switch {
	case errors.Is(err, errMissing):
		return nil, nil
	case errors.Is(err, tack.ErrTooDeep):
		return nil, tack.TooDeep(root)
	case err != nil:
		return nil, err
	}
	return d, nil
}

// errMissing ends the walk of a DAG that lacks a block.
var errMissing = errors.New("a block of the DAG is missing")

// checkLinks returns a block's links after checking that each is a CID
// tack may hold.
func checkLinks(from cid.Cid, links []cid.Cid) ([]cid.Cid, error) {
	for _, l := range links {
		if codec := l.Prefix().Codec; !tack.CodecAllowed(codec) {
			return nil, tack.Errorf(tack.EINVALID, "block %s links to %s, which uses codec %s; tack accepts raw, dag-pb, dag-cbor and dag-json", from, l, tack.CodecName(codec))
		}
		if err := tack.CheckHash(l); err != nil {
			return nil, tack.Errorf(tack.EINVALID, "block %s links to %s, which tack refuses: %v", from, l, err)
		}
	}
	return links, nil
}
