// Package dag knows the blocks tack accepts: which codecs and sizes are
// allowed, and how to find the links of a block of any accepted codec so
// that a whole DAG can be walked.
package dag

import (
	"bytes"
	"fmt"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	dagpb "github.com/ipld/go-codec-dagpb"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/codec/dagjson"
	"github.com/ipld/go-ipld-prime/datamodel"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	"github.com/multiformats/go-multicodec"
	"github.com/multiformats/go-multihash"

	"github.com/tack-ipfs/tack"
)

// Check reports why tack refuses to store a block, or nil when the block is
// acceptable: its codec must be one of raw, dag-pb, dag-cbor and dag-json,
// and it must not be larger than tack.MaxBlockSize. Check does not hash
// the block; bitswap and the blockstore do that.
func Check(b blocks.Block) error {
	c := b.Cid()
	if codec := c.Prefix().Codec; !tack.CodecAllowed(codec) {
		return fmt.Errorf("block %s uses codec %s; tack accepts raw, dag-pb, dag-cbor and dag-json", c, tack.CodecName(codec))
	}
	if n := len(b.RawData()); n > tack.MaxBlockSize {
		return fmt.Errorf("block %s is %d bytes; tack accepts blocks of at most %d bytes (2 MiB)", c, n, tack.MaxBlockSize)
	}
	return nil
}

// Inline returns the block an identity CID (multihash 0x00) carries in
// itself, and true; for any other CID it returns false. The block is
// never fetched or stored: whoever holds the CID holds the block. Its
// codec is the CID's, so Check and Links apply to it as to any block.
func Inline(c cid.Cid) (blocks.Block, bool) {
	if c.Prefix().MhType != multihash.IDENTITY {
		return nil, false
	}
	dm, err := multihash.Decode(c.Hash())
	if err != nil {
		return nil, false // a decoded CID holds a valid multihash
	}
	b, err := blocks.NewBlockWithCid(dm.Digest, c)
	if err != nil {
		return nil, false
	}
	return b, true
}

// Links returns the CIDs a block links to, in the order they appear, for
// every accepted codec: none for raw, the Links of a dag-pb node, and every
// link anywhere in the data model of a dag-cbor or dag-json node. It fails
// for a block it cannot decode or whose codec tack does not accept.
func Links(b blocks.Block) ([]cid.Cid, error) {
	c := b.Cid()
	data := b.RawData()
	switch multicodec.Code(c.Prefix().Codec) {
	case multicodec.Raw:
		return nil, nil
	case multicodec.DagPb:
		return pbLinks(c, data)
	case multicodec.DagCbor:
		nb := basicnode.Prototype.Any.NewBuilder()
		opts := dagcbor.DecodeOptions{AllowLinks: true, RelaxedDecode: true}
		if err := opts.Decode(nb, bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("block %s is not valid dag-cbor: %w", c, err)
		}
		return nodeLinks(nb.Build()), nil
	case multicodec.DagJson:
		nb := basicnode.Prototype.Any.NewBuilder()
		opts := dagjson.DecodeOptions{ParseLinks: true, ParseBytes: true}
		if err := opts.Decode(nb, bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("block %s is not valid dag-json: %w", c, err)
		}
		return nodeLinks(nb.Build()), nil
	default:
		return nil, Check(b)
	}
}

// pbLinks decodes a dag-pb node with go-codec-dagpb, which measured about
// twice as fast as boxo's merkledag.DecodeProtobuf (see BenchmarkLinks).
func pbLinks(c cid.Cid, data []byte) ([]cid.Cid, error) {
	nb := dagpb.Type.PBNode.NewBuilder()
	if err := dagpb.DecodeBytes(nb, data); err != nil {
		return nil, fmt.Errorf("block %s is not valid dag-pb: %w", c, err)
	}
	n := nb.Build().(dagpb.PBNode)
	links := n.FieldLinks()
	out := make([]cid.Cid, 0, links.Length())
	for it := links.Iterator(); !it.Done(); {
		_, l := it.Next()
		lc, err := linkCid(l.FieldHash().Link())
		if err != nil {
			return nil, fmt.Errorf("block %s: %w", c, err)
		}
		out = append(out, lc)
	}
	return out, nil
}

// nodeLinks collects every link in the data model below n, depth first.
func nodeLinks(n datamodel.Node) []cid.Cid {
	var out []cid.Cid
	var walk func(datamodel.Node)
	walk = func(n datamodel.Node) {
		switch n.Kind() {
		case datamodel.Kind_Link:
			l, _ := n.AsLink()
			if lc, err := linkCid(l); err == nil {
				out = append(out, lc)
			}
		case datamodel.Kind_Map:
			for it := n.MapIterator(); !it.Done(); {
				_, v, err := it.Next()
				if err != nil {
					return
				}
				walk(v)
			}
		case datamodel.Kind_List:
			for it := n.ListIterator(); !it.Done(); {
				_, v, err := it.Next()
				if err != nil {
					return
				}
				walk(v)
			}
		}
	}
	walk(n)
	return out
}

func linkCid(l datamodel.Link) (cid.Cid, error) {
	cl, ok := l.(cidlink.Link)
	if !ok {
		return cid.Undef, fmt.Errorf("link %v is not a CID", l)
	}
	return cl.Cid, nil
}
