package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

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

// readRange reads n bytes at off of an object, within the store's read
// timeout: each attempt gets a third of it, and a failed one is tried
// again after a short, growing delay while time is left. A missing object
// or a refusal (a 4xx) is not retried.
func (s *Store) readRange(ctx context.Context, name string, off, n int64) ([]byte, error) {
	start := time.Now()
	deadline := start.Add(s.readTimeout)
	wait := 50 * time.Millisecond
	for {
		data, err := s.readRangeOnce(ctx, name, off, n, min(s.readTimeout/3, time.Until(deadline)))
		if err == nil || ctx.Err() != nil || refused(err) {
			return data, err
		}
		if time.Now().Add(wait).After(deadline) {
			return nil, fmt.Errorf("%w: no block within %s (the read-timeout of --blocks): %w", errNoAnswer, s.readTimeout, err)
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		wait *= 2
	}
}

// readRangeOnce makes one attempt of readRange, within timeout.
func (s *Store) readRangeOnce(ctx context.Context, name string, off, n int64, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
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

// refused tells whether the bucket answered a request with a 4xx, which
// the same request again would get too.
func refused(err error) bool {
	code := minio.ToErrorResponse(err).StatusCode
	return code >= 400 && code < 500 && code != 408 && code != 429
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
