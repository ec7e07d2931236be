package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	blocks "github.com/ipfs/go-block-format"
	"github.com/minio/minio-go/v7"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/blockstore"
)

// pack is a pack being filled or uploaded.
type pack struct {
	name    string
	buf     []byte
	slots   []*slot
	started time.Time

	done   chan struct{} // closed once it is in the index (or given up at Close)
	failed chan struct{} // closed after it failed failAfter times (it is still retried)
	err    error         // the last failure; read after done or failed
}

// slot is where a block written but not yet indexed is.
type slot struct {
	p        *pack
	mh       []byte
	off, len int
}

// failAfter is how many failed attempts to upload a pack Sync waits for
// before it reports the error; the upload is retried meanwhile.
const failAfter = 3

// Put stores a block: in the open pack, and in the cache.
func (s *Store) Put(ctx context.Context, b blocks.Block) error {
	return s.PutMany(ctx, []blocks.Block{b})
}

// PutMany stores blocks.
func (s *Store) PutMany(ctx context.Context, bs []blocks.Block) error {
	var sealed []*pack
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("s3: put to a closed blockstore")
	}
	for _, b := range bs {
		mh := b.Cid().Hash()
		if _, ok := s.pending[string(mh)]; ok {
			continue // on its way already
		}
		if s.open == nil {
			s.open = s.newPack()
		}
		p := s.open
		sl := &slot{p: p, mh: mh, off: len(p.buf), len: len(b.RawData())}
		if len(p.buf)+sl.len > cap(p.buf) {
			// A pack starts small (a Sync may seal it soon, as for a
			// pin of a few blocks), then grows once to its full size.
			buf := make([]byte, len(p.buf), max(s.packSize+tack.MaxBlockSize, int64(len(p.buf)+sl.len)))
			copy(buf, p.buf)
			p.buf = buf
		}
		p.buf = append(p.buf, b.RawData()...)
		p.slots = append(p.slots, sl)
		s.pending[string(mh)] = sl
		s.writes++
		if int64(len(p.buf)) >= s.packSize {
			sealed = append(sealed, s.seal())
		}
	}
	if s.cache != nil {
		for _, b := range bs {
			s.fill(b)
		}
	}
	s.mu.Unlock()
	s.upload(sealed...)
	return nil
}

// newPack returns an empty pack with a new, unique name.
func (s *Store) newPack() *pack {
	var r [8]byte
	rand.Read(r[:])
	now := time.Now().UTC()
	return &pack{
		name:    s.prefix + "packs/" + now.Format("20060102T150405.000000000Z") + "-" + hex.EncodeToString(r[:]) + ".pack",
		buf:     make([]byte, 0, min(s.packSize, firstBuf)),
		started: now,
		done:    make(chan struct{}),
		failed:  make(chan struct{}),
	}
}

// firstBuf is the capacity a pack's buffer starts with.
const firstBuf = 1 << 20

// seal takes the open pack for uploading, under mu.
func (s *Store) seal() *pack {
	p := s.open
	s.open = nil
	s.sealed = s.writes
	s.inflight = append(s.inflight, p)
	return p
}

// upload starts uploading sealed packs, each once a slot is free: the
// caller waits for slots, which bounds the memory packs take.
func (s *Store) upload(ps ...*pack) {
	for _, p := range ps {
		s.slots <- struct{}{}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.slots }()
			s.store(p)
		}()
	}
}

// store uploads a pack and records it in the index, retrying with a
// growing delay until it succeeds or the store is closed.
func (s *Store) store(p *pack) {
	var uploaded time.Time
	wait := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		if !uploaded.IsZero() && time.Since(uploaded) > orphanAge/2 {
			// Compact may take it for an orphan soon: upload it again.
			uploaded = time.Time{}
		}
		err := s.storeOnce(p, &uploaded)
		if err == nil {
			if attempt > 1 {
				s.log.Info("s3: stored a pack after failed attempts", "pack", p.name, "attempts", attempt, "since", time.Since(p.started).Round(time.Millisecond))
			}
			close(p.done)
			return
		}
		if errors.Is(err, errNoAnswer) {
			// A bucket that does not answer: the pack's blocks wait in
			// memory, and every Sync for them, until it does.
			s.log.Warn("s3: a pack upload stalled: the bucket did not answer; retrying", "pack", p.name, "attempt", attempt,
				"timeout", s.writeTimeout, "since", time.Since(p.started).Round(time.Millisecond), "err", err)
		} else {
			s.log.Error("s3: storing a pack", "pack", p.name, "attempt", attempt, "err", err)
		}
		p.err = err
		if attempt == failAfter {
			close(p.failed)
		}
		select {
		case <-s.stop:
			s.mu.Lock()
			s.dropPack(p)
			s.mu.Unlock()
			if attempt < failAfter {
				close(p.failed)
			}
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

func (s *Store) storeOnce(p *pack, uploaded *time.Time) error {
	ctx := context.Background()
	if uploaded.IsZero() {
		if err := s.putObject(ctx, p.name, p.buf); err != nil {
			return err
		}
		*uploaded = time.Now()
	}
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	s.mu.Lock()
	var entries []blockstore.PackMove
	for _, sl := range p.slots {
		if s.pending[string(sl.mh)] == sl { // not deleted meanwhile
			entries = append(entries, blockstore.PackMove{PackEntry: blockstore.PackEntry{Hash: sl.mh, Offset: int64(sl.off), Length: int64(sl.len)}})
		}
	}
	s.mu.Unlock()
	if err := s.index.AddPack(ctx, blockstore.Pack{Name: p.name, Size: int64(len(p.buf))}, entries); err != nil {
		return fmt.Errorf("s3: %w", err)
	}
	s.mu.Lock()
	s.dropPack(p)
	s.mu.Unlock()
	return nil
}

// putObject uploads a pack in one PUT. Over https the payload is not
// signed (TLS protects it, and a CRC32C trailer checks it): signing costs
// a SHA-256 of every byte on both sides, a quarter of the client's CPU
// for large blocks. Over http it is signed.
// The PUT gets the store's write timeout.
func (s *Store) putObject(ctx context.Context, name string, data []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.writeTimeout)
	defer cancel()
	_, err := s.client.PutObject(ctx, s.bucket, name, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{
		ContentType:          "application/octet-stream",
		DisableMultipart:     true,
		DisableContentSha256: s.secure,
	})
	if err != nil {
		return fmt.Errorf("s3: put %s: %w", name, timedOut(ctx, err, s.writeTimeout))
	}
	return nil
}

// dropPack forgets a pack that is in the index, or given up, under mu.
func (s *Store) dropPack(p *pack) {
	for _, sl := range p.slots {
		if s.pending[string(sl.mh)] == sl {
			delete(s.pending, string(sl.mh))
		}
	}
	for i, q := range s.inflight {
		if q == p {
			s.inflight = append(s.inflight[:i], s.inflight[i+1:]...)
			break
		}
	}
}

// flusher uploads the open pack once it is FlushAfter old, so that blocks
// reach the bucket (and other nodes) without a Sync.
func (s *Store) flusher() {
	defer s.wg.Done()
	t := time.NewTicker(s.flushAfter / 2)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		var p *pack
		if s.open != nil && time.Since(s.open.started) >= s.flushAfter && !s.closed {
			p = s.seal()
		}
		s.mu.Unlock()
		if p != nil {
			s.upload(p)
		}
	}
}

// Sync makes every block written before it durable: their packs uploaded
// and recorded in the index. If a pack fails to be stored several times,
// Sync returns the error while the upload goes on being retried.
func (s *Store) Sync(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("s3: sync of a closed blockstore")
	}
	need := s.writes
	for s.sealed < need && s.syncing != nil {
		// Another Sync's pack is uploading: wait, while more writes and
		// Syncs gather, then seal them all in one pack.
		p := s.syncing
		s.mu.Unlock()
		select {
		case <-p.done:
		case <-p.failed:
		case <-ctx.Done():
			return ctx.Err()
		}
		s.mu.Lock()
		if s.syncing == p {
			s.syncing = nil
		}
	}
	var sealed *pack
	if s.sealed < need && s.open != nil {
		sealed = s.seal()
		s.syncing = sealed
	}
	wait := append([]*pack(nil), s.inflight...)
	s.mu.Unlock()
	if sealed != nil {
		s.upload(sealed)
		defer func() {
			s.mu.Lock()
			if s.syncing == sealed {
				s.syncing = nil
			}
			s.mu.Unlock()
		}()
	}
	for _, p := range wait {
		select {
		case <-p.done:
		case <-p.failed:
			select {
			case <-p.done:
			default:
				return p.err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
