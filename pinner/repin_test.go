package pinner_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/tack-ipfs/tack/internal/testpeer"
	"github.com/tack-ipfs/tack/pinner"
)

// A fetch cancelled with blocks in flight (its pin deleted) and the same
// DAG fetched again at once by a new session (the pin posted again) must
// get every block from the provider that holds them, without waiting out
// the stall.
func TestWalkAgainAfterCancel(t *testing.T) {
	peer := testpeer.New(t)
	root := peer.AddFile(t, 2<<20, 1<<10, 1)
	all, err := testpeer.AllCIDs(context.Background(), peer.Blockstore(), root)
	if err != nil {
		t.Fatal(err)
	}
	bs := memBlockstore()
	n := newNode(t, bs, peer)
	var rec pinner.Received
	for i := range 40 {
		// The first fetch stops with blocks in flight.
		ctx, cancel := context.WithCancel(context.Background())
		var p pinner.Progress
		done := make(chan error, 1)
		go func() {
			done <- (&pinner.Walker{Blockstore: bs}).Walk(ctx, n, root, &p)
		}()
		for p.Blocks.Load() < int64(100+40*(i%40)) {
			time.Sleep(100 * time.Microsecond)
		}
		cancel()
		<-done
		// The second starts at once.
		start := time.Now()
		p2, err := walk(t, &pinner.Walker{Blockstore: bs, Stall: 5 * time.Second, Received: &rec}, n, root)
		var stalled *pinner.StallError
		if errors.As(err, &stalled) {
			var missing []cid.Cid
			for _, c := range all {
				if ok, _ := bs.Has(context.Background(), c); !ok {
					missing = append(missing, c)
				}
			}
			t.Fatalf("round %d: the fetch after a cancelled one stalled with the provider connected: %v; missing %d blocks: %v", i, err, len(missing), missing[:min(len(missing), 5)])
		}
		if err != nil {
			t.Fatal(err)
		}
		if p2.Blocks.Load() != int64(len(all)) {
			t.Fatalf("round %d: %d blocks, want %d", i, p2.Blocks.Load(), len(all))
		}
		t.Logf("round %d: %s, %d blocks asked for again so far", i, time.Since(start), rec.Rewants.Load())
		for _, c := range all {
			if err := bs.DeleteBlock(context.Background(), c); err != nil {
				t.Fatal(err)
			}
		}
	}
}
