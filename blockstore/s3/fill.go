package s3

import (
	"context"

	blocks "github.com/ipfs/go-block-format"
)

// fillBytes bounds the bytes of written blocks waiting for the cache.
const fillBytes = 16 << 20

// fillReq is a written block waiting for the cache.
type fillReq struct {
	b   blocks.Block
	gen uint64 // delGen when it was queued
}

// fill queues a written block for the cache, unless too many bytes wait.
func (s *Store) fill(b blocks.Block) {
	n := int64(len(b.RawData()))
	if s.queued.Add(n) > fillBytes {
		s.queued.Add(-n)
		return
	}
	select {
	case s.fills <- fillReq{b, s.delGen.Load()}:
	default:
		s.queued.Add(-n)
	}
}

// filler caches the blocks queued by fill until fills is closed.
func (s *Store) filler() {
	defer s.fillsWG.Done()
	ctx := context.Background()
	for r := range s.fills {
		b := r.b
		s.fillMu.Lock()
		ok := s.delGen.Load() == r.gen
		if !ok {
			s.mu.Lock()
			_, ok = s.pending[string(b.Cid().Hash())]
			s.mu.Unlock()
		}
		if ok {
			s.cache.Put(ctx, b)
		}
		s.fillMu.Unlock()
		s.queued.Add(-int64(len(b.RawData())))
	}
}
