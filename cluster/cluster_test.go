package cluster_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/blockstore"
	"github.com/tack-ipfs/tack/cluster"
	"github.com/tack-ipfs/tack/gc"
	"github.com/tack-ipfs/tack/sqlite/sqlitetest"
)

// addrs returns n multiaddrs of the node named name.
func addrs(name string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("/dns4/%s.example.com/tcp/%d", name, 4001+i)
	}
	return out
}

// A node's delegates are its own addresses first, then those of the other
// live nodes that share its blocks, up to MaxDelegates; nodes of other
// blocks, and every other node when blocks are not shared, are left out.
// Run removes the node from the store once its context ends.
func TestDelegates(t *testing.T) {
	ctx := context.Background()
	db := sqlitetest.MustOpen(t)
	local, err := blockstore.OpenLocal(filepath.Join(t.TempDir(), "blocks"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { local.Close() })
	guard, err := gc.NewGuard(local, db)
	if err != nil {
		t.Fatal(err)
	}
	member := func(id, blocks string, n int, shared bool) *cluster.Member {
		m := cluster.New(db, guard, tack.Node{ID: id, Blocks: blocks, Started: time.Now()}, func() []string { return addrs(id, n) }, shared)
		if err := m.Save(ctx); err != nil {
			t.Fatal(err)
		}
		return m
	}
	member("b", "s3://bucket/a", 3, true)
	member("c", "s3://bucket/other", 3, true)
	own := member("own", "local", 2, false)
	a := member("a", "s3://bucket/a", 2, true)

	if got, want := a.Delegates(), append(addrs("a", 2), addrs("b", 3)...); !slices.Equal(got, want) {
		t.Errorf("delegates of a node sharing its blocks with b:\n got %q\nwant %q", got, want)
	}
	if got, want := own.Delegates(), addrs("own", 2); !slices.Equal(got, want) {
		t.Errorf("delegates of a node with local blocks:\n got %q\nwant %q", got, want)
	}
	member("d", "s3://bucket/a", 30, true)
	if err := a.Save(ctx); err != nil {
		t.Fatal(err)
	}
	got := a.Delegates()
	if want := append(append(addrs("a", 2), addrs("b", 3)...), addrs("d", 15)...); !slices.Equal(got, want) {
		t.Errorf("delegates past MaxDelegates (%d):\n got %q\nwant %q", cluster.MaxDelegates, got, want)
	}

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Run(runCtx, func(msg string, args ...any) { t.Errorf("%s %v", msg, args) })
	}()
	stop()
	<-done
	nodes, err := db.FindNodes(ctx, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.ID == "a" {
			t.Errorf("node a still in the store after Run ended")
		}
	}
	if len(nodes) != 4 {
		t.Errorf("%d nodes in the store, want the 4 others", len(nodes))
	}
}
