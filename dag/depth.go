package dag

import (
	"context"
	"fmt"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multicodec"

	"github.com/tack-ipfs/tack"
)

// TooDeep is the error of a DAG deeper than tack.MaxDAGDepth: it names the
// limit, and errors.Is finds tack.ErrTooDeep in it.
func TooDeep(root cid.Cid) error {
	return fmt.Errorf("the DAG of %s is refused: %w", root, tack.ErrTooDeep)
}

// Depth walks the DAG below root depth first, with a stack of its own
// rather than recursion, and returns its depth: the most links on any path
// from root to a block (root alone is 0). It returns an error wrapping
// tack.ErrTooDeep as soon as it finds a path longer than tack.MaxDAGDepth,
// so the stack never holds more than tack.MaxDAGDepth+1 blocks.
//
// links returns the links of the block c (nil for a block without any).
// Depth calls it once for each block with links, as key names them, and
// for every link to a raw block (whose depth is that of the link, so that
// raw leaves cost no memory here: links may count them once itself). An
// error from links ends the walk with that error.
//
// A block reached again along another path is not read again: Depth
// remembers its height (the longest path below it), so a diamond, or a
// block linked a million times, costs one call, and the depth is still
// the longest path, not the first one found.
func Depth[K comparable](ctx context.Context, root cid.Cid, key func(cid.Cid) K, links func(cid.Cid) ([]cid.Cid, error)) (int, error) {
	type frame struct {
		k      K
		links  []cid.Cid
		next   int
		height int32
	}
	const onStack = -1
	heights := map[K]int32{}
	var stack []frame
	// enter starts on c, reached at depth d, and says whether it needs a
	// frame; if not, h is its height.
	enter := func(c cid.Cid, d int) (f frame, h int32, err error) {
		if d > tack.MaxDAGDepth {
			return f, 0, TooDeep(root)
		}
		if c.Prefix().Codec == uint64(multicodec.Raw) {
			_, err := links(c)
			return f, 0, err
		}
		k := key(c)
		if h, ok := heights[k]; ok {
			if h == onStack {
				// Only a collision of keys can make a cycle: take it for
				// a leaf rather than walk in circles.
				return f, 0, nil
			}
			if d+int(h) > tack.MaxDAGDepth {
				return f, 0, TooDeep(root)
			}
			return f, h, nil
		}
		ls, err := links(c)
		if err != nil {
			return f, 0, err
		}
		if len(ls) == 0 {
			heights[k] = 0
			return f, 0, nil
		}
		heights[k] = onStack
		return frame{k: k, links: ls}, 0, nil
	}
	f, h, err := enter(root, 0)
	if err != nil || f.links == nil {
		return int(h), err
	}
	stack = append(stack, f)
	for n := 0; len(stack) > 0; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
		}
		top := &stack[len(stack)-1]
		if top.next == len(top.links) {
			heights[top.k] = top.height
			h := top.height + 1
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return int(h - 1), nil
			}
			parent := &stack[len(stack)-1]
			parent.height = max(parent.height, h)
			continue
		}
		c := top.links[top.next]
		top.next++
		f, h, err := enter(c, len(stack))
		if err != nil {
			return 0, err
		}
		if f.links == nil {
			top.height = max(top.height, h+1)
			continue
		}
		stack = append(stack, f)
	}
	return 0, nil
}

// Graph records the links between the blocks of a DAG as a walk that
// visits each block once, in any order (a fetch receives blocks as peers
// send them), finds them, so that the DAG's depth can be told once the
// walk is over. The depth at which a walk first reaches a block is only a
// lower bound of its depth: a longer path to it may be found later.
// Blocks are nodes numbered from 0 in the order Add gives them.
type Graph struct {
	first []int32 // per node, its first edge in edges; -1 until Links
	count []int32
	edges []int32
}

// Add adds a node and returns its number.
func (g *Graph) Add() int32 {
	g.first = append(g.first, -1)
	g.count = append(g.count, 0)
	return int32(len(g.first) - 1)
}

// Links records the links of node (each a node's number), once.
func (g *Graph) Links(node int32, to []int32) {
	g.first[node] = int32(len(g.edges))
	g.count[node] = int32(len(to))
	g.edges = append(g.edges, to...)
}

// Depth returns the most links on a path from root, or an error wrapping
// tack.ErrTooDeep (for the DAG of rootCID) past tack.MaxDAGDepth. It costs
// one step for each node and each link, however many paths share them.
func (g *Graph) Depth(root int32, rootCID cid.Cid) (int, error) {
	heights := make([]int32, len(g.first))
	for i := range heights {
		heights[i] = -1 // not yet known
	}
	type frame struct{ node, next, height int32 }
	stack := []frame{{node: root}}
	heights[root] = -2 // on the stack
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if top.next >= g.count[top.node] || g.first[top.node] < 0 {
			heights[top.node] = top.height
			h := top.height + 1
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return int(h - 1), nil
			}
			parent := &stack[len(stack)-1]
			parent.height = max(parent.height, h)
			continue
		}
		child := g.edges[g.first[top.node]+top.next]
		top.next++
		d := len(stack) // the child's depth along this path
		if d > tack.MaxDAGDepth {
			return 0, TooDeep(rootCID)
		}
		switch h := heights[child]; {
		case h == -2:
			// A cycle cannot be built of hashes; take it for a leaf.
		case h >= 0:
			if d+int(h) > tack.MaxDAGDepth {
				return 0, TooDeep(rootCID)
			}
			top.height = max(top.height, h+1)
		default:
			heights[child] = -2
			stack = append(stack, frame{node: child})
		}
	}
	return 0, nil
}
