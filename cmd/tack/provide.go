package main

import (
	"context"
	"log/slog"

	"github.com/ipfs/go-cid"

	"github.com/tack-ipfs/tack"
)

// rootsPage is how many DAGs pinnedRoots reads from the store at a time.
const rootsPage = 1000

// pinnedRoots lists the root of every DAG the store holds whole, for
// --provide roots: the node announces them and nothing else.
func pinnedRoots(store tack.DAGStore, log *slog.Logger) func(context.Context) (<-chan cid.Cid, error) {
	return func(ctx context.Context) (<-chan cid.Cid, error) {
		out := make(chan cid.Cid, rootsPage)
		go func() {
			defer close(out)
			after := ""
			for {
				dags, err := store.ListDAGs(ctx, after, rootsPage)
				if err != nil {
					if ctx.Err() == nil {
						log.Error("provide: listing the pinned DAGs", "err", err)
					}
					return
				}
				for _, d := range dags {
					c, err := cid.Decode(d.Key)
					if err != nil {
						log.Error("provide: a DAG's key is not a CID", "key", d.Key, "err", err)
						continue
					}
					select {
					case out <- c:
					case <-ctx.Done():
						return
					}
				}
				if len(dags) < rootsPage {
					return
				}
				after = dags[len(dags)-1].Key
			}
		}()
		return out, nil
	}
}
