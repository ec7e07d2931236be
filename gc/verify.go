package gc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/dag"
	"golang.org/x/time/rate"
)

// VerifyReport is what a verify pass found.
type VerifyReport struct {
	DAGs     int      // DAGs walked
	Blocks   int      // blocks checked
	Broken   []string // content keys of DAGs with a block missing or damaged
	Requeued int      // pinned requests put back in the queue
	// TooDeep are the content keys of DAGs deeper than tack.MaxDAGDepth
	// (recorded before tack had the limit): checked until the walk found
	// a path past the limit, and left pinned.
	TooDeep []string
	Took    time.Duration
}

func (r VerifyReport) String() string {
	return fmt.Sprintf("checked %d blocks of %d DAGs in %s: %d DAGs broken, %d requests queued to fetch them again, %d DAGs deeper than %d links",
		r.Blocks, r.DAGs, r.Took.Round(time.Millisecond), len(r.Broken), r.Requeued, len(r.TooDeep), tack.MaxDAGDepth)
}

// Verify walks every DAG the store records as held whole and checks that
// each of its blocks is in the blockstore: raw leaves by their presence,
// every other block by reading it, checking its hash and following its
// links. A DAG with a block missing or damaged (a damaged block is
// deleted) is forgotten and its pinned requests are queued again, so
// that the pinner fetches what is missing; each is logged. limit, if not
// nil, paces the walk in blocks a second.
func Verify(ctx context.Context, store tack.DAGStore, bs blockstore.Blockstore, limit *rate.Limiter, log *slog.Logger) (VerifyReport, error) {
	var rep VerifyReport
	start := time.Now()
	defer func() { rep.Took = time.Since(start) }()
	for after := ""; ; {
		dags, err := store.ListDAGs(ctx, after, page)
		if err != nil {
			return rep, err
		}
		if len(dags) == 0 {
			return rep, nil
		}
		for _, d := range dags {
			bad, why, err := verifyDAG(ctx, bs, d.Key, limit, &rep.Blocks)
			if errors.Is(err, tack.ErrTooDeep) {
				// Recorded by a tack that had no limit: it is still
				// pinned, and kept whole by collections, but no longer
				// checked past the limit.
				rep.DAGs++
				rep.TooDeep = append(rep.TooDeep, d.Key)
				log.Warn("verify: a pinned DAG is deeper than tack accepts; it stays pinned, and is checked only until a path past the limit", "dag", d.Key, "limit", tack.MaxDAGDepth)
				continue
			}
			if err != nil {
				return rep, err
			}
			rep.DAGs++
			if !bad.Defined() {
				continue
			}
			reason := fmt.Sprintf("fetching again: block %s %s", bad, why)
			n, err := store.RequeueDAG(ctx, d.Key, reason)
			if err != nil {
				return rep, err
			}
			rep.Broken = append(rep.Broken, d.Key)
			rep.Requeued += n
			log.Warn("verify: a pinned DAG is missing a block; its requests are queued to fetch it again",
				"dag", d.Key, "block", bad, "problem", why, "requests", n)
		}
		after = dags[len(dags)-1].Key
	}
}

// verifyDAG returns the first block of the DAG that is missing or
// damaged, and what is wrong with it; cid.Undef if none. It walks the DAG
// with dag.Depth, each block once, and stops with tack.ErrTooDeep at a
// path longer than tack.MaxDAGDepth.
func verifyDAG(ctx context.Context, bs blockstore.Blockstore, key string, limit *rate.Limiter, checked *int) (cid.Cid, string, error) {
	root, err := cid.Decode(key)
	if err != nil {
		return cid.Undef, "", fmt.Errorf("verify: content key %q: %w", key, err)
	}
	seen := map[uint64]struct{}{} // raw blocks checked
	links := func(c cid.Cid) ([]cid.Cid, error) {
		b, inline := dag.Inline(c)
		if !inline {
			if c.Prefix().Codec == cid.Raw {
				h := hashKey(c)
				if _, ok := seen[h]; ok {
					return nil, nil
				}
				seen[h] = struct{}{}
			}
			if limit != nil {
				if err := limit.Wait(ctx); err != nil {
					return nil, err
				}
			}
			*checked++
			if c.Prefix().Codec == cid.Raw {
				ok, err := bs.Has(ctx, c)
				if err != nil {
					return nil, fmt.Errorf("verify: %w", err)
				}
				if !ok {
					return nil, &broken{c, "is missing"}
				}
				return nil, nil
			}
			if b, err = bs.Get(ctx, c); ipld.IsNotFound(err) {
				return nil, &broken{c, "is missing"}
			} else if err != nil {
				return nil, fmt.Errorf("verify: %w", err)
			}
			if sum, err := c.Prefix().Sum(b.RawData()); err != nil || !sum.Equals(c) {
				if err := bs.DeleteBlock(ctx, c); err != nil {
					return nil, fmt.Errorf("verify: deleting damaged block %s: %w", c, err)
				}
				return nil, &broken{c, "is damaged (its data does not match its hash)"}
			}
		}
		links, err := dag.Links(b)
		if err != nil {
			return nil, &broken{c, "does not decode: " + err.Error()}
		}
		return links, nil
	}
	_, err = dag.Depth(ctx, root, hashKey, links)
	var bad *broken
	if errors.As(err, &bad) {
		return bad.c, bad.why, nil
	}
	return cid.Undef, "", err
}

// broken is a block of a DAG that is missing or damaged.
type broken struct {
	c   cid.Cid
	why string
}

func (b *broken) Error() string { return fmt.Sprintf("block %s %s", b.c, b.why) }
