package gc

import (
	"context"
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
	Took     time.Duration
}

func (r VerifyReport) String() string {
	return fmt.Sprintf("checked %d blocks of %d DAGs in %s: %d DAGs broken, %d requests queued to fetch them again",
		r.Blocks, r.DAGs, r.Took.Round(time.Millisecond), len(r.Broken), r.Requeued)
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
// damaged, and what is wrong with it; cid.Undef if none.
func verifyDAG(ctx context.Context, bs blockstore.Blockstore, key string, limit *rate.Limiter, checked *int) (cid.Cid, string, error) {
	root, err := cid.Decode(key)
	if err != nil {
		return cid.Undef, "", fmt.Errorf("verify: content key %q: %w", key, err)
	}
	seen := map[uint64]struct{}{}
	todo := []cid.Cid{root}
	for len(todo) > 0 {
		c := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		b, inline := dag.Inline(c)
		if !inline {
			h := hashKey(c)
			if _, ok := seen[h]; ok {
				continue
			}
			seen[h] = struct{}{}
			if limit != nil {
				if err := limit.Wait(ctx); err != nil {
					return cid.Undef, "", err
				}
			}
			*checked++
			if c.Prefix().Codec == cid.Raw {
				ok, err := bs.Has(ctx, c)
				if err != nil {
					return cid.Undef, "", fmt.Errorf("verify: %w", err)
				}
				if !ok {
					return c, "is missing", nil
				}
				continue
			}
			if b, err = bs.Get(ctx, c); ipld.IsNotFound(err) {
				return c, "is missing", nil
			} else if err != nil {
				return cid.Undef, "", fmt.Errorf("verify: %w", err)
			}
			if sum, err := c.Prefix().Sum(b.RawData()); err != nil || !sum.Equals(c) {
				if err := bs.DeleteBlock(ctx, c); err != nil {
					return cid.Undef, "", fmt.Errorf("verify: deleting damaged block %s: %w", c, err)
				}
				return c, "is damaged (its data does not match its hash)", nil
			}
		}
		links, err := dag.Links(b)
		if err != nil {
			return c, "does not decode: " + err.Error(), nil
		}
		todo = append(todo, links...)
	}
	return cid.Undef, "", nil
}
