package s3

import (
	"context"
	"fmt"

	"github.com/ipfs/go-cid"

	"github.com/tack-ipfs/tack/blockstore"
)

// DeleteBlock removes a block. Removing a block that is not there is not
// an error. Its bytes stay in its pack until Compact.
func (s *Store) DeleteBlock(ctx context.Context, c cid.Cid) error {
	return s.delete(ctx, [][]byte{c.Hash()})
}

// DeleteStored deletes blocks that ForEachBlock found.
func (s *Store) DeleteStored(ctx context.Context, bs []blockstore.Stored) error {
	mhs := make([][]byte, len(bs))
	for i, b := range bs {
		mhs[i] = b.Cid.Hash()
	}
	return s.delete(ctx, mhs)
}

func (s *Store) delete(ctx context.Context, mhs [][]byte) error {
	if len(mhs) == 0 {
		return nil
	}
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	s.mu.Lock()
	for _, mh := range mhs {
		delete(s.pending, string(mh))
	}
	s.mu.Unlock()
	if s.cache != nil {
		s.fillMu.Lock()
		s.delGen.Add(1)
		s.cache.Delete(ctx, mhs)
		s.fillMu.Unlock()
	}
	if err := s.index.DeleteBlocks(ctx, mhs); err != nil {
		return fmt.Errorf("s3: %w", err)
	}
	return nil
}

// page is how many index entries a listing reads at a time.
const page = 1000

// ForEachBlock calls fn for every stored block: those not yet indexed,
// then those in the index.
func (s *Store) ForEachBlock(ctx context.Context, fn func(blockstore.Stored) error) error {
	s.mu.Lock()
	unindexed := make(map[string]int, len(s.pending))
	for mh, sl := range s.pending {
		unindexed[mh] = sl.len
	}
	s.mu.Unlock()
	for mh, n := range unindexed {
		if err := fn(blockstore.Stored{Cid: cid.NewCidV1(cid.Raw, []byte(mh)), Size: n}); err != nil {
			return err
		}
	}
	var after []byte
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		es, err := s.index.Blocks(ctx, after, page)
		if err != nil {
			return fmt.Errorf("s3: %w", err)
		}
		if len(es) == 0 {
			return nil
		}
		for _, e := range es {
			if _, ok := unindexed[string(e.Hash)]; ok {
				continue
			}
			if err := fn(blockstore.Stored{Cid: cid.NewCidV1(cid.Raw, e.Hash), Size: int(e.Length)}); err != nil {
				return err
			}
		}
		after = es[len(es)-1].Hash
	}
}

// Seq returns the index's position (see gc.Shared).
func (s *Store) Seq(ctx context.Context) (int64, error) {
	seq, err := s.index.Seq(ctx)
	if err != nil {
		return 0, fmt.Errorf("s3: %w", err)
	}
	return seq, nil
}

// Touch moves the index entries of the blocks past every position Seq
// returned, and returns those not stored. A block written here and not
// yet in the index counts as stored, if its pack's commit has not begun:
// its entry comes with a position drawn after this Touch. A pack being
// committed may have drawn its position before: holding commitMu waits
// for that commit to end, and its blocks are then touched in the index
// like any other.
func (s *Store) Touch(ctx context.Context, cs []cid.Cid) ([]cid.Cid, error) {
	byHash := make(map[string]cid.Cid, len(cs))
	hs := make([][]byte, 0, len(cs))
	s.commitMu.Lock()
	s.mu.Lock()
	for _, c := range cs {
		if _, ok := s.pending[string(c.Hash())]; ok {
			continue
		}
		byHash[string(c.Hash())] = c
		hs = append(hs, c.Hash())
	}
	s.mu.Unlock()
	s.commitMu.Unlock()
	if len(hs) == 0 {
		return nil, nil
	}
	missing, err := s.index.Touch(ctx, hs)
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	out := make([]cid.Cid, len(missing))
	for i, h := range missing {
		out[i] = byHash[string(h)]
	}
	return out, nil
}

// DeleteUnchanged deletes blocks ForEachBlock listed unless written or
// touched after the position seq (see gc.Shared). Blocks written here and
// not yet indexed stay: their entries come with new positions.
func (s *Store) DeleteUnchanged(ctx context.Context, bs []blockstore.Stored, seq int64) (int, int64, error) {
	if len(bs) == 0 {
		return 0, 0, nil
	}
	mhs := make([][]byte, len(bs))
	for i, b := range bs {
		mhs[i] = b.Cid.Hash()
	}
	if s.cache != nil {
		s.fillMu.Lock()
		s.delGen.Add(1)
		s.cache.Delete(ctx, mhs)
		s.fillMu.Unlock()
	}
	n, size, err := s.index.DeleteUnchanged(ctx, mhs, seq)
	if err != nil {
		return 0, 0, fmt.Errorf("s3: %w", err)
	}
	return n, size, nil
}

// DropCache empties the local cache: another node's collection may have
// deleted blocks it holds.
func (s *Store) DropCache(ctx context.Context) error {
	if s.cache == nil {
		return nil
	}
	s.fillMu.Lock()
	s.delGen.Add(1)
	s.cache.Clear(ctx)
	s.fillMu.Unlock()
	return nil
}
