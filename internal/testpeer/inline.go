package testpeer

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/ipfs/boxo/blockservice"
	chunker "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	"github.com/multiformats/go-multicodec"
	"github.com/multiformats/go-multihash"

	"github.com/tack-ipfs/tack/blockstore/blockstoretest"
)

// InlineLimit is the default --inline-limit of `ipfs add --inline`: blocks
// of at most 32 bytes get an identity CID, which carries the block itself.
const InlineLimit = 32

// inlineBuilder makes CIDs as Kubo's `ipfs add --inline` does (go-cidutil's
// InlineBuilder): an identity CIDv1 for data of at most limit bytes, the
// wrapped builder's CID for anything larger.
type inlineBuilder struct {
	cid.Builder
	limit int
}

func (b inlineBuilder) Sum(data []byte) (cid.Cid, error) {
	if len(data) > b.limit {
		return b.Builder.Sum(data)
	}
	return cid.V1Builder{Codec: b.GetCodec(), MhType: multihash.IDENTITY}.Sum(data)
}

func (b inlineBuilder) WithCodec(c uint64) cid.Builder {
	return inlineBuilder{Builder: b.Builder.WithCodec(c), limit: b.limit}
}

// AddInlineDirectory stores a UnixFS directory as `ipfs add -r --inline`
// makes it (CIDv0, dag-pb leaves, inline limit 32) and returns its root:
// files tiny files (and an empty one), whose nodes are small enough to be
// identity CIDs, a 100 KiB file in 16 KiB chunks, whose blocks are not,
// and a subdirectory holding one tiny file. As in Kubo, the identity
// blocks are not stored: the CIDs carry them.
func (p *Peer) AddInlineDirectory(tb testing.TB, files int) cid.Cid {
	tb.Helper()
	ctx := context.Background()
	builder := inlineBuilder{Builder: merkledag.V0CidPrefix(), limit: InlineLimit}
	dserv := merkledag.NewDAGService(blockservice.New(p.bstore, nil))
	file := func(data []byte, chunk int64) ipld.Node {
		params := helpers.DagBuilderParams{
			Maxlinks:   helpers.DefaultLinksPerBlock,
			CidBuilder: builder,
			Dagserv:    dserv,
		}
		db, err := params.New(chunker.NewSizeSplitter(bytes.NewReader(data), chunk))
		if err != nil {
			tb.Fatal(err)
		}
		nd, err := balanced.Layout(db)
		if err != nil {
			tb.Fatal(err)
		}
		return nd
	}
	dir := func() uio.Directory {
		d, err := uio.NewDirectory(dserv, uio.WithCidBuilder(builder))
		if err != nil {
			tb.Fatal(err)
		}
		return d
	}
	add := func(d uio.Directory, name string, nd ipld.Node) {
		if err := d.AddChild(ctx, name, nd); err != nil {
			tb.Fatal(err)
		}
	}
	done := func(d uio.Directory) ipld.Node {
		nd, err := d.GetNode()
		if err != nil {
			tb.Fatal(err)
		}
		if err := dserv.Add(ctx, nd); err != nil {
			tb.Fatal(err)
		}
		return nd
	}

	root := dir()
	for i := range files {
		add(root, fmt.Sprintf("%04d.txt", i), file(fmt.Appendf(nil, "file %d", i), 256<<10))
	}
	add(root, "empty", file(nil, 256<<10))
	big := make([]byte, 100<<10)
	newRand().Read(big)
	add(root, "big.bin", file(big, 16<<10))
	sub := dir()
	add(sub, "a", file([]byte("x"), 256<<10))
	add(root, "sub", done(sub))
	return done(root).Cid()
}

// Inline returns the identity CID of data as a block of codec: the CID
// carries the block, and no peer needs to store it.
func Inline(tb testing.TB, codec multicodec.Code, data []byte) cid.Cid {
	tb.Helper()
	c, err := cid.V1Builder{Codec: uint64(codec), MhType: multihash.IDENTITY}.Sum(data)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// InlineNode returns the identity CID of nd encoded in codec (dag-cbor or
// dag-json).
func InlineNode(tb testing.TB, codec multicodec.Code, nd datamodel.Node) cid.Cid {
	tb.Helper()
	return Inline(tb, codec, blockstoretest.MustNodeBlock(tb, codec, nd).RawData())
}

// links is a dag-cbor or dag-json node {"links": [cs...]}.
func links(tb testing.TB, cs ...cid.Cid) datamodel.Node {
	tb.Helper()
	nd, err := qp.BuildMap(basicnode.Prototype.Any, -1, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "links", qp.List(-1, func(la datamodel.ListAssembler) {
			for _, c := range cs {
				qp.ListEntry(la, qp.Link(cidlink.Link{Cid: c}))
			}
		}))
	})
	if err != nil {
		tb.Fatal(err)
	}
	return nd
}

// AddNestedInline stores a random raw leaf and returns an identity dag-cbor CID
// that links to it and to an identity dag-json node, which links to an
// identity raw block: identity inside identity, with one block that has
// to be fetched.
func (p *Peer) AddNestedInline(tb testing.TB) cid.Cid {
	tb.Helper()
	leaf := p.Put(tb, multicodec.Raw, fmt.Appendf(nil, "the one block a peer must send, %x", newRand().Uint64()))
	inner := InlineNode(tb, multicodec.DagJson, links(tb, Inline(tb, multicodec.Raw, []byte("deep"))))
	return InlineNode(tb, multicodec.DagCbor, links(tb, inner, leaf.Cid()))
}

// AddWithInline stores a dag-cbor root that links to a raw leaf and to
// the given identity CID, and returns the root.
func (p *Peer) AddWithInline(tb testing.TB, inline cid.Cid) cid.Cid {
	tb.Helper()
	leaf := p.Put(tb, multicodec.Raw, []byte("an ordinary leaf"))
	return p.rootOf(tb, leaf.Cid(), inline)
}

// AddLinks stores a dag-cbor node {"links": [cs...]} and returns its CID:
// one root over DAGs the peer holds, sharing whatever they share.
func (p *Peer) AddLinks(tb testing.TB, cs ...cid.Cid) cid.Cid {
	tb.Helper()
	return p.PutNode(tb, multicodec.DagCbor, links(tb, cs...))
}
