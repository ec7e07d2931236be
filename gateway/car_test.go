package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	chunker "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/gateway"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/boxo/path"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	mh "github.com/multiformats/go-multihash"
)

// carFixture is a blockstore of DAGs of every shape the gateway serves.
type carFixture struct {
	bs    blockstore.Blockstore
	dserv ipld.DAGService
	roots map[string]cid.Cid
}

func newCARFixture(t *testing.T) *carFixture {
	t.Helper()
	bs := blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()), blockstore.NoPrefix())
	f := &carFixture{bs: bs, dserv: merkledag.NewDAGService(blockservice.New(bs, nil)), roots: map[string]cid.Cid{}}
	ctx := context.Background()

	file := func(size, chunk, links int) ipld.Node {
		params := helpers.DagBuilderParams{
			Maxlinks:   links,
			RawLeaves:  true,
			CidBuilder: merkledag.V1CidPrefix(),
			Dagserv:    f.dserv,
		}
		r := io.LimitReader(rand.NewChaCha8([32]byte{byte(size), byte(chunk)}), int64(size))
		db, err := params.New(chunker.NewSizeSplitter(r, int64(chunk)))
		if err != nil {
			t.Fatal(err)
		}
		nd, err := balanced.Layout(db)
		if err != nil {
			t.Fatal(err)
		}
		return nd
	}
	deep := file(200<<10, 1<<10, 3) // several levels deep
	f.roots["deep-file"] = deep.Cid()
	f.roots["one-block-file"] = file(100, 1<<10, 174).Cid()

	dir, err := uio.NewBasicDirectory(f.dserv, uio.WithCidBuilder(merkledag.V1CidPrefix()))
	if err != nil {
		t.Fatal(err)
	}
	for i, nd := range []ipld.Node{deep, file(5000, 1000, 2), deep} { // deep twice: a duplicate
		if err := dir.AddChild(ctx, fmt.Sprintf("f%d", i), nd); err != nil {
			t.Fatal(err)
		}
	}
	dnd, err := dir.GetNode()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.dserv.Add(ctx, dnd); err != nil {
		t.Fatal(err)
	}
	f.roots["dir"] = dnd.Cid()

	hamt, err := uio.NewHAMTDirectory(f.dserv, 0, uio.WithCidBuilder(merkledag.V1CidPrefix()))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		if err := hamt.AddChild(ctx, fmt.Sprintf("entry-%d", i), file(10+i, 1<<10, 174)); err != nil {
			t.Fatal(err)
		}
	}
	hnd, err := hamt.GetNode()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.dserv.Add(ctx, hnd); err != nil {
		t.Fatal(err)
	}
	f.roots["hamt"] = hnd.Cid()

	// A dag-cbor document that links a file twice, an identity CID and a
	// block the blockstore does not hold.
	ident, err := cid.V1Builder{Codec: cid.Raw, MhType: mh.IDENTITY}.Sum([]byte("inline"))
	if err != nil {
		t.Fatal(err)
	}
	doc := func(missing bool) cid.Cid {
		n, err := qp.BuildMap(basicnode.Prototype.Any, -1, func(ma datamodel.MapAssembler) {
			qp.MapEntry(ma, "a", qp.Link(cidlink.Link{Cid: deep.Cid()}))
			qp.MapEntry(ma, "b", qp.List(-1, func(la datamodel.ListAssembler) {
				qp.ListEntry(la, qp.Link(cidlink.Link{Cid: deep.Cid()}))
				qp.ListEntry(la, qp.Link(cidlink.Link{Cid: ident}))
				if missing {
					absent, _ := cid.V1Builder{Codec: cid.Raw, MhType: mh.SHA2_256}.Sum([]byte("not held"))
					qp.ListEntry(la, qp.Link(cidlink.Link{Cid: absent}))
				}
			}))
		})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := dagcbor.Encode(n, &buf); err != nil {
			t.Fatal(err)
		}
		c, err := cid.V1Builder{Codec: cid.DagCBOR, MhType: mh.SHA2_256}.Sum(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		b, _ := blocks.NewBlockWithCid(buf.Bytes(), c)
		if err := bs.Put(ctx, b); err != nil {
			t.Fatal(err)
		}
		return c
	}
	f.roots["dag-cbor"] = doc(false)
	f.roots["dag-cbor-missing-block"] = doc(true)
	return f
}

// backends returns boxo's backend over the fixture's blocks, and tack's
// heldBackend over the same blockservice, to compare their answers.
func (f *carFixture) backends(t *testing.T) (*gateway.BlocksBackend, *heldBackend) {
	t.Helper()
	blocks := blockservice.New(blockstore.NewIdStore(f.bs), nil)
	bb, err := gateway.NewBlocksBackend(blocks, gateway.WithNameSystem(noNames{}))
	if err != nil {
		t.Fatal(err)
	}
	return bb, &heldBackend{BlocksBackend: bb, held: blockstore.NewIdStore(f.bs), blocks: blocks, log: slog.New(slog.DiscardHandler)}
}

// readCAR reads a GetCAR response and the error that ended it.
func readCAR(t *testing.T, get func() (gateway.ContentPathMetadata, io.ReadCloser, error)) ([]byte, gateway.ContentPathMetadata, error) {
	t.Helper()
	md, r, err := get()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	body, err := io.ReadAll(r)
	return body, md, err
}

// TestGatewayTrustedCAR checks that the CARs tack streams itself are boxo's, byte
// for byte, with and without duplicates, for whole DAGs and paths into
// them in every scope, and end with an error where boxo's do, with the
// same metadata.
func TestGatewayTrustedCAR(t *testing.T) {
	f := newCARFixture(t)
	bb, held := f.backends(t)
	ctx := context.Background()
	type tc struct {
		path  string
		scope gateway.DagScope
		rng   *gateway.DagByteRange
	}
	var cases []tc
	for name := range f.roots {
		for _, scope := range []gateway.DagScope{gateway.DagScopeAll, gateway.DagScopeEntity, gateway.DagScopeBlock} {
			cases = append(cases, tc{name + "/", scope, nil})
		}
	}
	for _, p := range []string{"dir/f0", "dir/f1", "hamt/entry-7", "hamt/entry-299", "dag-cbor/a", "dag-cbor/b", "dag-cbor/b/0", "dag-cbor/b/1", "dag-cbor-missing-block/b"} {
		for _, scope := range []gateway.DagScope{gateway.DagScopeAll, gateway.DagScopeEntity, gateway.DagScopeBlock} {
			cases = append(cases, tc{p, scope, nil})
		}
	}
	to := int64(5000)
	for _, p := range []string{"deep-file/", "dir/f0"} {
		for _, rng := range []*gateway.DagByteRange{{From: 0}, {From: 1000, To: &to}, {From: -3000}} {
			cases = append(cases, tc{p, gateway.DagScopeEntity, rng})
		}
	}
	for _, c := range cases {
		for _, dups := range []gateway.DuplicateBlocksPolicy{gateway.DuplicateBlocksExcluded, gateway.DuplicateBlocksIncluded} {
			t.Run(fmt.Sprintf("%s/%s/%v/dups=%v", c.path, c.scope, c.rng, dups.Bool()), func(t *testing.T) {
				name, rest, _ := strings.Cut(c.path, "/")
				pp, err := path.Join(path.FromCid(f.roots[name]), strings.Split(rest, "/")...)
				if rest == "" {
					pp = path.FromCid(f.roots[name])
				}
				if err != nil {
					t.Fatal(err)
				}
				p, err := path.NewImmutablePath(pp)
				if err != nil {
					t.Fatal(err)
				}
				params := gateway.CarParams{Scope: c.scope, Range: c.rng, Duplicates: dups}
				want, wantMD, wantErr := readCAR(t, func() (gateway.ContentPathMetadata, io.ReadCloser, error) {
					return bb.GetCAR(ctx, p, params)
				})
				got, gotMD, gotErr := readCAR(t, func() (gateway.ContentPathMetadata, io.ReadCloser, error) {
					return held.GetCAR(ctx, p, params)
				})
				// boxo's handler copies with io.Copy, which calls WriteTo.
				md, r, err := held.GetCAR(ctx, p, params)
				if err != nil {
					t.Fatal(err)
				}
				var copied bytes.Buffer
				n, copyErr := io.Copy(&copied, r)
				if err := r.Close(); err != nil {
					t.Error(err)
				}
				if !bytes.Equal(copied.Bytes(), want) || n != int64(copied.Len()) {
					t.Errorf("CAR copied: %d bytes (%d counted), boxo's has %d, or they differ", copied.Len(), n, len(want))
				}
				if (copyErr == nil) != (wantErr == nil) {
					t.Errorf("copy ended with %v, boxo's stream with %v", copyErr, wantErr)
				}
				if fmt.Sprint(md) != fmt.Sprint(wantMD) {
					t.Errorf("metadata %v, boxo's %v", md, wantMD)
				}
				if _, err := r.Read(make([]byte, 1)); err == nil {
					t.Error("read after close succeeded")
				}
				if !bytes.Equal(got, want) {
					t.Errorf("CAR of %d bytes, boxo's has %d, or they differ", len(got), len(want))
				}
				if (gotErr == nil) != (wantErr == nil) {
					t.Errorf("stream ended with %v, boxo's with %v", gotErr, wantErr)
				}
				if fmt.Sprint(gotMD) != fmt.Sprint(wantMD) {
					t.Errorf("metadata %v, boxo's %v", gotMD, wantMD)
				}
				if len(want) < 100 {
					t.Errorf("boxo's CAR has only %d bytes", len(want))
				}
			})
		}
	}
}
