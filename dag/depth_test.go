package dag_test

import (
	"context"
	"errors"
	"testing"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/dag"
	"github.com/tack-ipfs/tack/internal/cartest"
)

// depthOf runs dag.Depth and dag.Graph over bs (root first) and checks
// that both agree, and that Depth read each block with links once.
func depthOf(t *testing.T, bs []blocks.Block) (int, error) {
	t.Helper()
	byKey := map[string]blocks.Block{}
	for _, b := range bs {
		byKey[string(b.Cid().Hash())] = b
	}
	reads := map[string]int{}
	d, err := dag.Depth(context.Background(), bs[0].Cid(), func(c cid.Cid) string { return string(c.Hash()) },
		func(c cid.Cid) ([]cid.Cid, error) {
			reads[string(c.Hash())]++
			return dag.Links(byKey[string(c.Hash())])
		})
	for _, b := range bs {
		if b.Cid().Prefix().Codec != cid.Raw && reads[string(b.Cid().Hash())] > 1 {
			t.Errorf("block %s was read %d times", b.Cid(), reads[string(b.Cid().Hash())])
		}
	}

	// The same DAG as a Graph, its nodes added in the order of bs.
	var g dag.Graph
	ids := map[string]int32{}
	for _, b := range bs {
		ids[string(b.Cid().Hash())] = g.Add()
	}
	for _, b := range bs {
		links, _ := dag.Links(b)
		var to []int32
		for _, l := range links {
			to = append(to, ids[string(l.Hash())])
		}
		g.Links(ids[string(b.Cid().Hash())], to)
	}
	gd, gerr := g.Depth(0, bs[0].Cid())
	if gd != d || errors.Is(gerr, tack.ErrTooDeep) != errors.Is(err, tack.ErrTooDeep) {
		t.Errorf("Graph.Depth = %d, %v; Depth = %d, %v", gd, gerr, d, err)
	}
	return d, err
}

func TestDepth(t *testing.T) {
	for _, tc := range []struct {
		name string
		bs   []blocks.Block
		want int // -1: too deep
	}{
		{"one block", cartest.Chain(t, 0), 0},
		{"chain at the limit", cartest.Chain(t, tack.MaxDAGDepth), tack.MaxDAGDepth},
		{"chain past the limit", cartest.Chain(t, tack.MaxDAGDepth+1), -1},
		{"deep chain", cartest.Chain(t, 20000), -1},
		{"diamond at the limit", cartest.Diamond(t, tack.MaxDAGDepth), tack.MaxDAGDepth},
		{"diamond past the limit", cartest.Diamond(t, tack.MaxDAGDepth+1), -1},
		{"small diamond", cartest.Diamond(t, 5), 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := depthOf(t, tc.bs)
			if tc.want < 0 {
				if !errors.Is(err, tack.ErrTooDeep) {
					t.Fatalf("Depth = %d, %v; want ErrTooDeep", d, err)
				}
				return
			}
			if err != nil || d != tc.want {
				t.Fatalf("Depth = %d, %v; want %d", d, err, tc.want)
			}
		})
	}
}

// TestDepthSharedBlocks: a block linked from many places, along paths of
// every length, is read once.
func TestDepthSharedBlocks(t *testing.T) {
	leaf := cartest.Raw(t, []byte("leaf"))
	shared := cartest.Node(t, -1, leaf.Cid())
	// Each layer links to the layer below and to the shared block.
	bs := []blocks.Block{shared, leaf}
	next := shared.Cid()
	for i := range 500 {
		b := cartest.Node(t, int64(i), next, shared.Cid(), next, shared.Cid())
		bs = append([]blocks.Block{b}, bs...)
		next = b.Cid()
	}
	d, err := depthOf(t, bs)
	// 500 layers (depths 0 to 499), the shared block, its leaf.
	if err != nil || d != 501 {
		t.Fatalf("Depth = %d, %v; want 501", d, err)
	}
}
