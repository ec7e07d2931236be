package dag_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/ipfs/boxo/ipld/merkledag"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	format "github.com/ipfs/go-ipld-format"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	"github.com/multiformats/go-multicodec"
	"github.com/multiformats/go-multihash"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/blockstore/blockstoretest"
	"github.com/tack-ipfs/tack/dag"
)

// rawCids returns n distinct raw CIDs.
func rawCids(tb testing.TB, n int) []cid.Cid {
	tb.Helper()
	out := make([]cid.Cid, n)
	for i := range out {
		out[i] = blockstoretest.MustBlock(tb, multicodec.Raw, fmt.Appendf(nil, "leaf %d", i)).Cid()
	}
	return out
}

// nested builds a data-model node with links at several depths: a top-level
// field, inside a list, inside a map inside a list.
func nested(tb testing.TB, ls []cid.Cid) datamodel.Node {
	tb.Helper()
	n, err := qp.BuildMap(basicnode.Prototype.Any, -1, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "a", qp.Link(cidlink.Link{Cid: ls[0]}))
		qp.MapEntry(ma, "name", qp.String("not a link"))
		qp.MapEntry(ma, "bytes", qp.Bytes([]byte{1, 2, 3}))
		qp.MapEntry(ma, "list", qp.List(-1, func(la datamodel.ListAssembler) {
			qp.ListEntry(la, qp.Int(7))
			qp.ListEntry(la, qp.Link(cidlink.Link{Cid: ls[1]}))
			qp.ListEntry(la, qp.Map(-1, func(ma datamodel.MapAssembler) {
				qp.MapEntry(ma, "deep", qp.Link(cidlink.Link{Cid: ls[2]}))
			}))
		}))
	})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// pbNode returns a dag-pb block with data and links to ls.
func pbNode(tb testing.TB, data []byte, ls []cid.Cid) blocks.Block {
	tb.Helper()
	nd := merkledag.NodeWithData(data)
	nd.SetCidBuilder(cid.V1Builder{Codec: cid.DagProtobuf, MhType: multihash.SHA2_256})
	for i, c := range ls {
		if err := nd.AddRawLink(fmt.Sprintf("l%d", i), &format.Link{Cid: c}); err != nil {
			tb.Fatal(err)
		}
	}
	return blockstoretest.MustBlock(tb, multicodec.DagPb, nd.RawData())
}

func TestLinks(t *testing.T) {
	ls := rawCids(t, 3)
	tests := []struct {
		name  string
		block blocks.Block
		want  []cid.Cid
	}{
		{"raw", blockstoretest.MustBlock(t, multicodec.Raw, []byte("hello")), nil},
		{"dag-pb no links", pbNode(t, []byte("data"), nil), nil},
		{"dag-pb", pbNode(t, []byte("data"), ls), ls},
		{"dag-pb empty", blockstoretest.MustBlock(t, multicodec.DagPb, nil), nil},
		{"dag-cbor nested", blockstoretest.MustNodeBlock(t, multicodec.DagCbor, nested(t, ls)), ls},
		{"dag-json nested", blockstoretest.MustNodeBlock(t, multicodec.DagJson, nested(t, ls)), ls},
		{"dag-cbor scalar", blockstoretest.MustNodeBlock(t, multicodec.DagCbor, basicnode.NewInt(5)), nil},
		{"dag-json link only", blockstoretest.MustBlock(t, multicodec.DagJson, []byte(`{"/":"`+ls[0].String()+`"}`)), ls[:1]},
		// Legacy non-canonical CBOR (unsorted keys, non-minimal length)
		// exists in the wild and still hashes right: accept it.
		{"dag-cbor non-canonical", blockstoretest.MustBlock(t, multicodec.DagCbor, []byte{0xa2, 0x61, 'b', 0x01, 0x61, 'a', 0x18, 0x02}), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := dag.Links(tt.block)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d links %v, want %d %v", len(got), got, len(tt.want), tt.want)
			}
			for i := range got {
				if !got[i].Equals(tt.want[i]) {
					t.Errorf("link %d: got %s, want %s", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestLinksRejectsBadBlocks(t *testing.T) {
	tests := []struct {
		name  string
		block blocks.Block
		want  string
	}{
		{"bad dag-pb", blockstoretest.MustBlock(t, multicodec.DagPb, []byte{0xff, 0xff}), "not valid dag-pb"},
		{"bad dag-cbor", blockstoretest.MustBlock(t, multicodec.DagCbor, []byte{0xff}), "not valid dag-cbor"},
		{"bad dag-json", blockstoretest.MustBlock(t, multicodec.DagJson, []byte("{nope")), "not valid dag-json"},
		{"dag-json trailing", blockstoretest.MustBlock(t, multicodec.DagJson, []byte("{} {}")), "not valid dag-json"},
		{"git-raw", blockstoretest.MustBlock(t, multicodec.GitRaw, []byte("blob 0\x00")), "uses codec git-raw"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := dag.Links(tt.block)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	big := make([]byte, tack.MaxBlockSize+1)
	tests := []struct {
		name  string
		block blocks.Block
		want  string // "" means accepted
	}{
		{"raw", blockstoretest.MustBlock(t, multicodec.Raw, []byte("x")), ""},
		{"dag-pb", blockstoretest.MustBlock(t, multicodec.DagPb, nil), ""},
		{"dag-cbor", blockstoretest.MustBlock(t, multicodec.DagCbor, []byte{0xa0}), ""},
		{"dag-json", blockstoretest.MustBlock(t, multicodec.DagJson, []byte("{}")), ""},
		{"exactly max", blockstoretest.MustBlock(t, multicodec.Raw, big[:tack.MaxBlockSize]), ""},
		{"oversized", blockstoretest.MustBlock(t, multicodec.Raw, big), "is 2097153 bytes; tack accepts blocks of at most 2097152 bytes"},
		{"git-raw", blockstoretest.MustBlock(t, multicodec.GitRaw, []byte("blob 0\x00")), "uses codec git-raw; tack accepts raw, dag-pb, dag-cbor and dag-json"},
		{"libp2p-key", blockstoretest.MustBlock(t, multicodec.Libp2pKey, []byte("k")), "uses codec libp2p-key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := dag.Check(tt.block)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.block.Cid().String()) {
				t.Errorf("error %q does not name the block", err)
			}
		})
	}
}

// benchBlocks returns ~1 KiB blocks of each codec with 10 links.
func benchBlocks(b *testing.B) map[string]blocks.Block {
	ls := rawCids(b, 10)
	data := bytes.Repeat([]byte("d"), 1024-10*40)
	n, err := qp.BuildMap(basicnode.Prototype.Any, -1, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "data", qp.Bytes(data))
		qp.MapEntry(ma, "links", qp.List(-1, func(la datamodel.ListAssembler) {
			for _, c := range ls {
				qp.ListEntry(la, qp.Map(-1, func(ma datamodel.MapAssembler) {
					qp.MapEntry(ma, "name", qp.String("x"))
					qp.MapEntry(ma, "cid", qp.Link(cidlink.Link{Cid: c}))
				}))
			}
		}))
	})
	if err != nil {
		b.Fatal(err)
	}
	return map[string]blocks.Block{
		"dag-pb":   pbNode(b, data, ls),
		"dag-cbor": blockstoretest.MustNodeBlock(b, multicodec.DagCbor, n),
		"dag-json": blockstoretest.MustNodeBlock(b, multicodec.DagJson, n),
		"raw":      blockstoretest.MustBlock(b, multicodec.Raw, make([]byte, 1024)),
	}
}

func BenchmarkLinks(b *testing.B) {
	for _, name := range []string{"raw", "dag-pb", "dag-cbor", "dag-json"} {
		blk := benchBlocks(b)[name]
		b.Run(fmt.Sprintf("%s/%dB", name, len(blk.RawData())), func(b *testing.B) {
			b.SetBytes(int64(len(blk.RawData())))
			b.ReportAllocs()
			for b.Loop() {
				if err := dag.Check(blk); err != nil {
					b.Fatal(err)
				}
				if _, err := dag.Links(blk); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// The alternative decoder for dag-pb, kept here to justify the choice.
	blk := benchBlocks(b)["dag-pb"]
	b.Run(fmt.Sprintf("dag-pb-merkledag/%dB", len(blk.RawData())), func(b *testing.B) {
		b.SetBytes(int64(len(blk.RawData())))
		b.ReportAllocs()
		for b.Loop() {
			nd, err := merkledag.DecodeProtobuf(blk.RawData())
			if err != nil {
				b.Fatal(err)
			}
			ls := make([]cid.Cid, 0, len(nd.Links()))
			for _, l := range nd.Links() {
				ls = append(ls, l.Cid)
			}
			linksSink = ls
		}
	})
}

// An identity CID carries its block: Inline returns it, with its links,
// and Check and Links treat it as any block of its codec.
func TestInline(t *testing.T) {
	identity := func(codec multicodec.Code, data []byte) cid.Cid {
		t.Helper()
		c, err := cid.V1Builder{Codec: uint64(codec), MhType: multihash.IDENTITY}.Sum(data)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	leaves := rawCids(t, 3)
	cbor := blockstoretest.MustNodeBlock(t, multicodec.DagCbor, nested(t, leaves)).RawData()

	b, ok := dag.Inline(identity(multicodec.DagCbor, cbor))
	if !ok || !bytes.Equal(b.RawData(), cbor) {
		t.Fatalf("Inline = %v, %v; want the dag-cbor block", b, ok)
	}
	if err := dag.Check(b); err != nil {
		t.Fatal(err)
	}
	if got, err := dag.Links(b); err != nil || len(got) != 3 || !got[0].Equals(leaves[0]) {
		t.Fatalf("Links of an inline block = %v, %v; want the 3 leaves", got, err)
	}

	if b, ok := dag.Inline(identity(multicodec.Raw, nil)); !ok || len(b.RawData()) != 0 {
		t.Fatalf("Inline of bafkqaaa = %v, %v; want an empty raw block", b, ok)
	}
	if b, ok := dag.Inline(identity(multicodec.GitRaw, []byte("blob 0\x00"))); !ok || dag.Check(b) == nil {
		t.Fatalf("Inline of a git-raw identity CID = %v, %v; want a block that Check refuses", b, ok)
	}
	if _, ok := dag.Inline(leaves[0]); ok {
		t.Fatal("Inline of a sha2-256 CID returned a block")
	}
}

// linksSink keeps BenchmarkLinks's slices alive, so that the compiler
// cannot drop the work it measures.
var linksSink []cid.Cid
