package testpeer

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/ipfs/boxo/blockservice"
	chunker "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	"github.com/multiformats/go-multicodec"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/blockstore/blockstoretest"
)

// newRand returns a fast random source, different on each call.
func newRand() *rand.ChaCha8 {
	var seed [32]byte
	for i := range seed {
		seed[i] = byte(rand.Uint32())
	}
	return rand.NewChaCha8(seed)
}

// AddFile imports size random bytes as a UnixFS file with the balanced
// layout and fixed-size chunks of chunk bytes, stores every block, and
// returns the root. CIDv1 files use raw leaves (as `ipfs add
// --cid-version=1` does); CIDv0 files use dag-pb leaves.
func (p *Peer) AddFile(tb testing.TB, size, chunk int, cidVersion int) cid.Cid {
	tb.Helper()
	var prefix cid.Prefix
	switch cidVersion {
	case 0:
		prefix = merkledag.V0CidPrefix()
	case 1:
		prefix = merkledag.V1CidPrefix()
	default:
		tb.Fatalf("testpeer: cid version %d", cidVersion)
	}
	r := &limitedReader{r: newRand(), n: size}
	params := helpers.DagBuilderParams{
		Maxlinks:   helpers.DefaultLinksPerBlock,
		RawLeaves:  cidVersion == 1,
		CidBuilder: prefix,
		Dagserv:    merkledag.NewDAGService(blockservice.New(p.bstore, nil)),
	}
	db, err := params.New(chunker.NewSizeSplitter(r, int64(chunk)))
	if err != nil {
		tb.Fatal(err)
	}
	nd, err := balanced.Layout(db)
	if err != nil {
		tb.Fatal(err)
	}
	return nd.Cid()
}

// limitedReader reads n bytes of r; the chunker wants an io.Reader that
// ends.
type limitedReader struct {
	r *rand.ChaCha8
	n int
}

func (l *limitedReader) Read(b []byte) (int, error) {
	if l.n <= 0 {
		return 0, io.EOF
	}
	b = b[:min(len(b), l.n)]
	n, _ := l.r.Read(b)
	l.n -= n
	return n, nil
}

// AddDAGCBOR stores a dag-cbor DAG of about n blocks and returns its root:
// n/2 dag-cbor nodes in a binary tree whose links sit at several depths
// of each node (top level, inside lists, inside maps inside lists), and
// the rest raw leaves, one of them shared by every node.
func (p *Peer) AddDAGCBOR(tb testing.TB, n int) cid.Cid {
	tb.Helper()
	return p.addDAG(tb, n, multicodec.DagCbor)
}

// AddDAGJSON is AddDAGCBOR in dag-json.
func (p *Peer) AddDAGJSON(tb testing.TB, n int) cid.Cid {
	tb.Helper()
	return p.addDAG(tb, n, multicodec.DagJson)
}

func (p *Peer) addDAG(tb testing.TB, n int, codec multicodec.Code) cid.Cid {
	tb.Helper()
	rnd := rand.New(newRand())
	m := max(1, n/2)
	leaves := make([]cid.Cid, max(1, n-m))
	for i := range leaves {
		data := make([]byte, 64+rnd.IntN(960))
		for j := range data {
			data[j] = byte(rnd.Uint32())
		}
		leaves[i] = p.Put(tb, multicodec.Raw, data).Cid()
	}
	link := func(c cid.Cid) qp.Assemble { return qp.Link(cidlink.Link{Cid: c}) }
	nodes := make([]cid.Cid, m)
	for i := m - 1; i >= 0; i-- {
		nd, err := qp.BuildMap(basicnode.Prototype.Any, -1, func(ma datamodel.MapAssembler) {
			qp.MapEntry(ma, "name", qp.String(fmt.Sprintf("node %d", i)))
			qp.MapEntry(ma, "shared", link(leaves[0]))
			qp.MapEntry(ma, "children", qp.List(-1, func(la datamodel.ListAssembler) {
				for _, c := range []int{2*i + 1, 2*i + 2} {
					if c < m {
						qp.ListEntry(la, qp.Map(-1, func(ma datamodel.MapAssembler) {
							qp.MapEntry(ma, "index", qp.Int(int64(c)))
							qp.MapEntry(ma, "node", link(nodes[c]))
						}))
					}
				}
			}))
			qp.MapEntry(ma, "data", qp.Map(-1, func(ma datamodel.MapAssembler) {
				qp.MapEntry(ma, "salt", qp.Bytes(fmt.Appendf(nil, "%x", rnd.Uint64())))
				qp.MapEntry(ma, "leaves", qp.List(-1, func(la datamodel.ListAssembler) {
					for j := i; j < len(leaves); j += m {
						qp.ListEntry(la, qp.List(-1, func(la datamodel.ListAssembler) {
							qp.ListEntry(la, qp.Int(int64(j)))
							qp.ListEntry(la, link(leaves[j]))
						}))
					}
				}))
			}))
		})
		if err != nil {
			tb.Fatal(err)
		}
		nodes[i] = p.PutNode(tb, codec, nd)
	}
	return nodes[0]
}

// AddWithUnsupportedCodec stores a dag-cbor root that links to a raw leaf
// and to a git-raw block (which tack refuses), and returns the root.
func (p *Peer) AddWithUnsupportedCodec(tb testing.TB) cid.Cid {
	tb.Helper()
	leaf := p.Put(tb, multicodec.Raw, []byte("an ordinary leaf"))
	git := p.Put(tb, multicodec.GitRaw, []byte("blob 14\x00hello from git"))
	return p.rootOf(tb, leaf.Cid(), git.Cid())
}

// AddWithOversizedBlock stores a dag-cbor root that links to a raw leaf
// and to a raw block one byte larger than tack.MaxBlockSize, and returns
// the root.
func (p *Peer) AddWithOversizedBlock(tb testing.TB) cid.Cid {
	tb.Helper()
	leaf := p.Put(tb, multicodec.Raw, []byte("an ordinary leaf"))
	big := make([]byte, tack.MaxBlockSize+1)
	newRand().Read(big)
	huge := p.Put(tb, multicodec.Raw, big)
	return p.rootOf(tb, leaf.Cid(), huge.Cid())
}

// rootOf stores a dag-cbor node {"links": [cs...]} and returns its CID.
func (p *Peer) rootOf(tb testing.TB, cs ...cid.Cid) cid.Cid {
	tb.Helper()
	return p.PutNode(tb, multicodec.DagCbor, links(tb, cs...))
}

// Put stores data as a block of codec under a sha2-256 CIDv1 and returns
// the block.
func (p *Peer) Put(tb testing.TB, codec multicodec.Code, data []byte) blocks.Block {
	tb.Helper()
	b := blockstoretest.MustBlock(tb, codec, data)
	p.AddBlocks(tb, b)
	return b
}

// PutNode encodes nd in codec (dag-cbor or dag-json), stores it and
// returns its CID.
func (p *Peer) PutNode(tb testing.TB, codec multicodec.Code, nd datamodel.Node) cid.Cid {
	tb.Helper()
	b := blockstoretest.MustNodeBlock(tb, codec, nd)
	p.AddBlocks(tb, b)
	return b.Cid()
}

// AddBlocks stores blocks as they are, whatever their codec or size.
func (p *Peer) AddBlocks(tb testing.TB, bs ...blocks.Block) {
	tb.Helper()
	if err := p.bstore.PutMany(context.Background(), bs); err != nil {
		tb.Fatal(err)
	}
}
