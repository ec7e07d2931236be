package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/minio/minio-go/v7"

	"github.com/tack-ipfs/tack/blockstore"
)

// Get returns the block c names, or an ipld.ErrNotFound: from the blocks
// not yet indexed, the cache, or a ranged GET of its pack.
func (s *Store) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	if !c.Defined() {
		return nil, ipld.ErrNotFound{Cid: c}
	}
	mh := c.Hash()
	s.mu.Lock()
	if sl, ok := s.pending[string(mh)]; ok {
		data := bytes.Clone(sl.p.buf[sl.off : sl.off+sl.len])
		s.mu.Unlock()
		return blocks.NewBlockWithCid(data, c)
	}
	s.mu.Unlock()
	if s.cache != nil {
		if b, ok := s.cache.Get(ctx, c); ok {
			return b, nil
		}
	}
	gen := s.delGen.Load()
	data, err := s.read(ctx, c)
	if err != nil {
		return nil, err
	}
	b, err := blocks.NewBlockWithCid(data, c)
	if err != nil {
		return nil, err
	}
	if s.cache != nil {
		s.cache.Put(ctx, b)
		// A deletion or DropCache since the lookup may have come before
		// this Put reached the cache: take the block out again.
		if s.delGen.Load() != gen {
			s.cache.Delete(ctx, [][]byte{c.Hash()})
		}
	}
	return b, nil
}

// read reads a block from its pack. A pack that compaction deleted after
// the lookup is looked up again.
func (s *Store) read(ctx context.Context, c cid.Cid) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		e, err := s.index.Lookup(ctx, c.Hash())
		if errors.Is(err, blockstore.ErrNoBlock) {
			return nil, ipld.ErrNotFound{Cid: c}
		} else if err != nil {
			return nil, fmt.Errorf("s3: %w", err)
		}
		if e.Length == 0 {
			return []byte{}, nil
		}
		data, err := s.readRange(ctx, e.Pack, e.Offset, e.Length)
		if isNoSuchKey(err) && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("s3: get %s: %w", c, err)
		}
		return data, nil
	}
}

// readRange reads n bytes at off of an object.
func (s *Store) readRange(ctx context.Context, name string, off, n int64) ([]byte, error) {
	var opts minio.GetObjectOptions
	if err := opts.SetRange(off, off+n-1); err != nil {
		return nil, err
	}
	obj, err := s.client.GetObject(ctx, s.bucket, name, opts)
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	data := make([]byte, n)
	if _, err := io.ReadFull(obj, data); err != nil {
		return nil, err
	}
	return data, nil
}

func isNoSuchKey(err error) bool {
	return err != nil && minio.ToErrorResponse(err).Code == "NoSuchKey"
}

// Has tells whether the store holds the block c names. It asks the index,
// never the cache, which may hold a block another node deleted.
func (s *Store) Has(ctx context.Context, c cid.Cid) (bool, error) {
	_, err := s.GetSize(ctx, c)
	if ipld.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// GetSize returns the size of the block c names, or an ipld.ErrNotFound.
func (s *Store) GetSize(ctx context.Context, c cid.Cid) (int, error) {
	if !c.Defined() {
		return -1, ipld.ErrNotFound{Cid: c}
	}
	s.mu.Lock()
	if sl, ok := s.pending[string(c.Hash())]; ok {
		s.mu.Unlock()
		return sl.len, nil
	}
	s.mu.Unlock()
	e, err := s.index.Lookup(ctx, c.Hash())
	if errors.Is(err, blockstore.ErrNoBlock) {
		return -1, ipld.ErrNotFound{Cid: c}
	} else if err != nil {
		return -1, fmt.Errorf("s3: %w", err)
	}
	return int(e.Length), nil
}

// AllKeysChan lists every stored block as a CIDv1 with the raw codec.
func (s *Store) AllKeysChan(ctx context.Context) (<-chan cid.Cid, error) {
	out := make(chan cid.Cid, 64)
	go func() {
		defer close(out)
		err := s.ForEachBlock(ctx, func(b blockstore.Stored) error {
			select {
			case out <- b.Cid:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		if err != nil && ctx.Err() == nil {
			s.log.Error("s3: listing blocks", "err", err)
		}
	}()
	return out, nil
}
