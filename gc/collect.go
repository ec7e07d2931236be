package gc

import (
	"context"
	"fmt"
	"time"

	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/tack-ipfs/tack"
	tackbs "github.com/tack-ipfs/tack/blockstore"
	"github.com/tack-ipfs/tack/dag"
)

// Report is what a collection did.
type Report struct {
	Forgotten int   // DAG records no request needed any more
	Roots     int   // DAGs marked from: held, wanted, and kept uploads
	Live      int   // blocks kept: marked, or in use by sessions
	Scanned   int   // blocks in the blockstore when the sweep ran
	Freed     int   // blocks deleted
	FreedSize int64 // their bytes
	Mark      time.Duration
	Sweep     time.Duration
	// Paused is the longest time a sweep batch held the Guard's lock, the
	// longest a fetch or upload could wait on it.
	Paused time.Duration
}

func (r Report) String() string {
	return fmt.Sprintf("freed %d blocks (%d bytes) of %d; kept %d from %d DAGs; forgot %d DAG records; mark %s, sweep %s, longest pause %s",
		r.Freed, r.FreedSize, r.Scanned, r.Live, r.Roots, r.Forgotten,
		r.Mark.Round(time.Millisecond), r.Sweep.Round(time.Millisecond), r.Paused.Round(time.Microsecond))
}

// deleteBatch is how many blocks a sweep deletes under one hold of the
// lock: long enough to amortise the lock, short enough that a fetch
// waiting to store a block waits about a millisecond.
const deleteBatch = 128

// page is how many keys Collect reads from the store at a time.
const page = 1000

// Collect frees every block that no DAG the store needs uses, while
// sessions go on storing and reading blocks:
//
//  1. From now on, every block a session records is kept (touched), and
//     so is every block of the sessions open now.
//  2. The store forgets the DAGs no request needs (ForgetDAGs): a new
//     request for one of them is fetched, which records its blocks.
//  3. Mark: every block reachable from a DAG still recorded or wanted
//     (WantedKeys), and the blocks kept for incomplete uploads.
//  4. Sweep: every other block is deleted, in batches, each checked
//     against touched under the lock sessions take to record.
//
// Every collection but one skipped with ErrBusy counts in Stats.
func (g *Guard) Collect(ctx context.Context, store tack.DAGStore) (rep Report, err error) {
	g.running.Lock()
	defer g.running.Unlock()
	start := time.Now()
	defer func() { g.record(start, time.Now(), rep, err) }()
	if g.cluster != nil {
		// Other nodes share the blockstore: one collection among them at
		// a time, and only once they have all joined it.
		r, err := g.begin(ctx)
		if err != nil {
			return rep, err
		}
		defer r.end()
		g.run = r
		defer func() { g.run = nil }()
	}

	g.mu.Lock()
	g.touched = map[uint64]struct{}{}
	g.smu.Lock()
	open := make([]*Session, 0, len(g.sessions))
	for s := range g.sessions {
		open = append(open, s)
	}
	g.smu.Unlock()
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.touched = nil
		g.mu.Unlock()
	}()

	n, err := store.ForgetDAGs(ctx)
	if err != nil {
		return rep, err
	}
	rep.Forgotten = n

	live := map[uint64]struct{}{}
	m := marker{bs: g.bs, live: live}
	wanted := map[string]bool{}
	for after := ""; ; {
		dags, err := store.ListDAGs(ctx, after, page)
		if err != nil {
			return rep, err
		}
		if len(dags) == 0 {
			break
		}
		for _, d := range dags {
			if err := m.mark(ctx, d.Key); err != nil {
				return rep, err
			}
			rep.Roots++
		}
		after = dags[len(dags)-1].Key
	}
	for after := ""; ; {
		keys, err := store.WantedKeys(ctx, after, page)
		if err != nil {
			return rep, err
		}
		if len(keys) == 0 {
			break
		}
		for _, k := range keys {
			wanted[k] = true
			if err := m.mark(ctx, k); err != nil {
				return rep, err
			}
			rep.Roots++
		}
		after = keys[len(keys)-1]
	}
	if err := g.markKept(ctx, wanted, start, live); err != nil {
		return rep, err
	}
	for _, s := range open {
		for _, k := range s.snapshot() {
			live[k] = struct{}{}
		}
	}
	if g.run != nil {
		if err := g.run.mark(ctx, live); err != nil {
			return rep, fmt.Errorf("gc: mark: %w", err)
		}
	}
	rep.Live = len(live)
	rep.Mark = time.Since(start)

	sweepStart := time.Now()
	if err := g.sweep(ctx, live, &rep); err != nil {
		return rep, err
	}
	if rep.Freed > 0 {
		// Local gives back the space of small blocks; S3 deletes empty
		// packs and rewrites mostly dead ones.
		if err := g.bs.Compact(ctx); err != nil {
			return rep, err
		}
	}
	rep.Sweep = time.Since(sweepStart)
	return rep, nil
}

// marker walks DAGs through the blockstore, adding every block it
// reaches to live. A block already in live is not walked again, so DAGs
// that share blocks cost their shared part once, and a walk costs one
// read a block with links, whatever the DAG's shape. Its stack is its own
// (no recursion), so depth costs it nothing; it marks past
// tack.MaxDAGDepth on purpose: a DAG deeper than that was refused when it
// came, unless an older tack recorded it, whose blocks a collection must
// keep all the same.
type marker struct {
	bs   blockstore.Blockstore
	live map[uint64]struct{}
}

func (m *marker) mark(ctx context.Context, key string) error {
	root, err := cid.Decode(key)
	if err != nil {
		return nil // not a key tack wrote: nothing to keep
	}
	todo := []cid.Cid{root}
	for len(todo) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		c := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		b, inline := dag.Inline(c)
		if !inline {
			h := hashKey(c)
			if _, ok := m.live[h]; ok {
				continue
			}
			m.live[h] = struct{}{}
			if c.Prefix().Codec == cid.Raw {
				continue // a leaf: no need to read it
			}
			if b, err = m.bs.Get(ctx, c); ipld.IsNotFound(err) {
				continue // not fetched yet, or missing (Verify's business)
			} else if err != nil {
				return fmt.Errorf("gc: mark: %w", err)
			}
		}
		links, err := dag.Links(b)
		if err != nil {
			continue // stored blocks were checked; keep what they are
		}
		todo = append(todo, links...)
	}
	return nil
}

// markKept adds the blocks of incomplete uploads of wanted DAGs to live,
// and forgets the kept blocks of DAGs no longer wanted that were added
// before this collection started (newer ones may belong to an upload
// whose request the store had not yet stored when it was asked).
func (g *Guard) markKept(ctx context.Context, wanted map[string]bool, start time.Time, live map[uint64]struct{}) error {
	kept, err := g.keeps.FindKeptUploads(ctx)
	if err != nil {
		return fmt.Errorf("gc: %w", err)
	}
	for _, k := range kept {
		if !wanted[k.Key] {
			if err := g.keeps.ForgetKeptUpload(ctx, k.Key, start); err != nil {
				return fmt.Errorf("gc: %w", err)
			}
			if k.Added.Before(start) {
				continue
			}
		}
		err := g.keeps.KeptUploadHashes(ctx, k.Key, func(hs []uint64) error {
			for _, h := range hs {
				live[h] = struct{}{}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("gc: %w", err)
		}
	}
	return nil
}

// sweep deletes every stored block that is neither live nor touched.
func (g *Guard) sweep(ctx context.Context, live map[uint64]struct{}, rep *Report) error {
	lister := g.bs
	var batch []tackbs.Stored
	err := lister.ForEachBlock(ctx, func(b tackbs.Stored) error {
		rep.Scanned++
		if _, ok := live[hashKey(b.Cid)]; ok {
			return nil
		}
		batch = append(batch, b)
		if len(batch) < deleteBatch {
			return nil
		}
		err := g.delete(ctx, lister, batch, rep)
		batch = batch[:0]
		return err
	})
	if err != nil {
		return fmt.Errorf("gc: sweep: %w", err)
	}
	return g.delete(ctx, lister, batch, rep)
}

// delete deletes the blocks of batch that no session touched, holding the
// lock that sessions take to record blocks.
func (g *Guard) delete(ctx context.Context, lister tackbs.Store, batch []tackbs.Stored, rep *Report) error {
	if len(batch) == 0 {
		return nil
	}
	g.mu.Lock()
	held := time.Now()
	defer func() {
		rep.Paused = max(rep.Paused, time.Since(held))
		g.mu.Unlock()
	}()
	dead := batch[:0]
	var size int64
	for _, b := range batch {
		if _, ok := g.touched[hashKey(b.Cid)]; ok {
			continue
		}
		dead = append(dead, b)
		size += int64(b.Size)
	}
	if r := g.run; r != nil {
		// Blocks the other nodes touched since the collection began stay.
		if err := r.check(ctx); err != nil {
			return err
		}
		n, size, err := g.shared.DeleteUnchanged(ctx, dead, r.seq)
		if err != nil {
			return fmt.Errorf("gc: sweep: %w", err)
		}
		rep.Freed += n
		rep.FreedSize += size
		return nil
	}
	if err := lister.DeleteStored(ctx, dead); err != nil {
		return fmt.Errorf("gc: sweep: %w", err)
	}
	rep.Freed += len(dead)
	rep.FreedSize += size
	return nil
}
