// Package cartest writes CAR files for tests: well-formed ones of small
// DAGs, broken ones (any section bytes at all), and large ones streamed
// as they are read, for benchmarks.
package cartest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"testing"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	"github.com/multiformats/go-multicodec"
	"github.com/multiformats/go-multihash"
)

// Header returns a CARv1 header naming roots.
func Header(tb testing.TB, roots ...cid.Cid) []byte {
	tb.Helper()
	nd, err := qp.BuildMap(basicnode.Prototype.Any, 2, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "roots", qp.List(int64(len(roots)), func(la datamodel.ListAssembler) {
			for _, r := range roots {
				qp.ListEntry(la, qp.Link(cidlink.Link{Cid: r}))
			}
		}))
		qp.MapEntry(ma, "version", qp.Int(1))
	})
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	if err := dagcbor.Encode(nd, &buf); err != nil {
		tb.Fatal(err)
	}
	return append(binary.AppendUvarint(nil, uint64(buf.Len())), buf.Bytes()...)
}

// Section returns the CAR section of a CID and data, which need not match.
func Section(c cid.Cid, data []byte) []byte {
	out := binary.AppendUvarint(nil, uint64(c.ByteLen()+len(data)))
	out = append(out, c.Bytes()...)
	return append(out, data...)
}

// CAR returns a CARv1 of the roots and blocks, in that order.
func CAR(tb testing.TB, roots []cid.Cid, bs ...blocks.Block) []byte {
	tb.Helper()
	out := Header(tb, roots...)
	for _, b := range bs {
		out = append(out, Section(b.Cid(), b.RawData())...)
	}
	return out
}

// Raw returns a raw block of data with a sha2-256 CIDv1.
func Raw(tb testing.TB, data []byte) blocks.Block {
	tb.Helper()
	c, err := cid.V1Builder{Codec: cid.Raw, MhType: multihash.SHA2_256}.Sum(data)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := blocks.NewBlockWithCid(data, c)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// Node returns a dag-cbor block {"links": [links...], "n": n}.
func Node(tb testing.TB, n int64, links ...cid.Cid) blocks.Block {
	tb.Helper()
	nd, err := qp.BuildMap(basicnode.Prototype.Any, 2, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "links", qp.List(int64(len(links)), func(la datamodel.ListAssembler) {
			for _, l := range links {
				qp.ListEntry(la, qp.Link(cidlink.Link{Cid: l}))
			}
		}))
		qp.MapEntry(ma, "n", qp.Int(n))
	})
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	if err := dagcbor.Encode(nd, &buf); err != nil {
		tb.Fatal(err)
	}
	c, err := cid.V1Builder{Codec: uint64(multicodec.DagCbor), MhType: multihash.SHA2_256}.Sum(buf.Bytes())
	if err != nil {
		tb.Fatal(err)
	}
	b, err := blocks.NewBlockWithCid(buf.Bytes(), c)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// DAG returns a two-level DAG: a dag-cbor root linking to leaves raw
// blocks of size bytes each (distinct), the root first.
func DAG(tb testing.TB, leaves, size int) (root blocks.Block, all []blocks.Block) {
	tb.Helper()
	var cs []cid.Cid
	for i := range leaves {
		data := make([]byte, size)
		binary.LittleEndian.PutUint64(data, uint64(i))
		copy(data[8:], "cartest leaf")
		b := Raw(tb, data)
		all = append(all, b)
		cs = append(cs, b.Cid())
	}
	root = Node(tb, int64(leaves), cs...)
	return root, append([]blocks.Block{root}, all...)
}

// Stream is a CARv1 written as it is read: a dag-cbor root linking to
// Blocks raw leaves of Size bytes, each leaf distinct. It costs a few
// blocks of memory whatever its length, so that a benchmark's client
// side stays small. The root comes last, which a CAR may do.
type Stream struct {
	Blocks, Size int
	Seed         uint64 // makes the leaves differ between streams

	parts [][]byte // what is left to read of the current section
	data  []byte   // the current leaf, reused
	i     int
	links []cid.Cid
	done  bool
	tb    testing.TB
}

// NewStream returns a Stream; its root is known only once it is read to
// the end, so the header names a root computed in advance (Root).
func NewStream(tb testing.TB, n, size int, seed uint64) (*Stream, cid.Cid) {
	s := &Stream{Blocks: n, Size: size, Seed: seed, tb: tb}
	// The root depends on every leaf's CID: compute them once, hashing
	// only, then stream the same leaves again.
	data := make([]byte, size)
	for i := range n {
		s.fill(data, i)
		sum := sha256.Sum256(data)
		mh, _ := multihash.Encode(sum[:], multihash.SHA2_256)
		s.links = append(s.links, cid.NewCidV1(cid.Raw, mh))
	}
	root := s.root()
	s.parts = [][]byte{Header(tb, root.Cid())}
	return s, root.Cid()
}

// Len returns the stream's length in bytes.
func (s *Stream) Len() int64 {
	n := int64(len(Header(s.tb, s.root().Cid())) + len(s.interior()))
	sec := int64(s.links[0].ByteLen() + s.Size)
	n += int64(s.Blocks) * (sec + int64(len(binary.AppendUvarint(nil, uint64(sec)))))
	return n
}

func (s *Stream) root() blocks.Block {
	// A root of many links splits into a tree of nodes of at most 1,000.
	links := s.links
	for len(links) > 1000 {
		var up []cid.Cid
		for i := 0; i < len(links); i += 1000 {
			up = append(up, Node(s.tb, int64(i), links[i:min(i+1000, len(links))]...).Cid())
		}
		links = up
	}
	return Node(s.tb, -1, links...)
}

func (s *Stream) fill(data []byte, i int) {
	for j := 0; j+8 <= len(data); j += 64 {
		binary.LittleEndian.PutUint64(data[j:], uint64(i)*0x9e3779b97f4a7c15^s.Seed^uint64(j))
	}
}

// Read implements io.Reader. Each leaf is made in one reused buffer and
// copied once, into p: the stream costs its reader little.
func (s *Stream) Read(p []byte) (int, error) {
	for len(s.parts) == 0 {
		switch {
		case s.i < s.Blocks:
			if s.data == nil {
				s.data = make([]byte, s.Size)
			}
			s.fill(s.data, s.i)
			c := s.links[s.i]
			hdr := binary.AppendUvarint(nil, uint64(c.ByteLen()+s.Size))
			s.parts = [][]byte{append(hdr, c.Bytes()...), s.data}
			s.i++
		case !s.done:
			s.done = true
			s.parts = [][]byte{s.interior()}
		default:
			return 0, io.EOF
		}
	}
	n := 0
	for n < len(p) && len(s.parts) > 0 {
		k := copy(p[n:], s.parts[0])
		n += k
		if s.parts[0] = s.parts[0][k:]; len(s.parts[0]) == 0 {
			s.parts = s.parts[1:]
		}
	}
	return n, nil
}

// interior returns the sections of the root and the nodes under it.
func (s *Stream) interior() []byte {
	links := s.links
	var out []byte
	for len(links) > 1000 {
		var up []cid.Cid
		for i := 0; i < len(links); i += 1000 {
			b := Node(s.tb, int64(i), links[i:min(i+1000, len(links))]...)
			out = append(out, Section(b.Cid(), b.RawData())...)
			up = append(up, b.Cid())
		}
		links = up
	}
	root := Node(s.tb, -1, links...)
	return append(out, Section(root.Cid(), root.RawData())...)
}

// Chain returns a chain of dag-cbor blocks depth links deep, the root
// first: each block links to the next, and the last links to nothing.
func Chain(tb testing.TB, depth int) []blocks.Block {
	tb.Helper()
	out := make([]blocks.Block, depth+1)
	out[depth] = Node(tb, int64(depth))
	for i := depth - 1; i >= 0; i-- {
		out[i] = Node(tb, int64(i), out[i+1].Cid())
	}
	return out
}

// Diamond returns a DAG depth links deep whose deepest blocks can also be
// reached along a short path, the root first: the root links first to a
// shared block (depth 1 that way) and then to a chain that ends in a link
// to the same shared block, which links to a raw leaf. A walk that
// visits each block once at the depth it first reaches it finds the DAG 2
// links deep.
func Diamond(tb testing.TB, depth int) []blocks.Block {
	tb.Helper()
	if depth < 4 {
		tb.Fatalf("a diamond is at least 4 links deep, not %d", depth)
	}
	leaf := Raw(tb, []byte(fmt.Sprintf("the leaf of a diamond %d deep", depth)))
	shared := Node(tb, -1, leaf.Cid())
	// root -> c1 -> ... -> c(depth-2) -> shared -> leaf
	chain := make([]blocks.Block, depth-2)
	next := shared.Cid()
	for i := len(chain) - 1; i >= 0; i-- {
		chain[i] = Node(tb, int64(i+1), next)
		next = chain[i].Cid()
	}
	root := Node(tb, 0, shared.Cid(), chain[0].Cid())
	return append(append([]blocks.Block{root}, chain...), shared, leaf)
}

// Stored returns how many of bs the blockstore holds.
func Stored(tb testing.TB, bs interface {
	Has(context.Context, cid.Cid) (bool, error)
}, of []blocks.Block) int {
	tb.Helper()
	n := 0
	for _, b := range of {
		if ok, err := bs.Has(context.Background(), b.Cid()); err != nil {
			tb.Fatal(err)
		} else if ok {
			n++
		}
	}
	return n
}
