package main

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	chunker "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	ipld "github.com/ipfs/go-ipld-format"
	carv2 "github.com/ipld/go-car/v2"
	"github.com/ipld/go-car/v2/storage"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	"github.com/multiformats/go-multicodec"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/blockstore/blockstoretest"
	"github.com/tack-ipfs/tack/dag"
)

// Fixtures for the gateway tests, built the way the IPFS gateway
// conformance suite's CAR fixtures are (its CARs are binary and its Go
// module cannot be downloaded here): UnixFS files of one block and of
// several, directories, HAMT-sharded directories, dag-cbor and dag-json
// documents with links, all CIDv1 with raw leaves.

// builder makes DAGs in a blockstore of its own, then writes them as
// CARs.
type builder struct {
	tb    testing.TB
	bs    blockstore.Blockstore
	dserv ipld.DAGService
}

func newBuilder(tb testing.TB) *builder {
	bs := blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()), blockstore.NoPrefix())
	return &builder{tb: tb, bs: bs, dserv: merkledag.NewDAGService(blockservice.New(bs, nil))}
}

// file imports data as a UnixFS file in chunks of chunk bytes, with raw
// leaves, as `ipfs add --cid-version=1 --chunker=size-<chunk>` does.
func (b *builder) file(data []byte, chunk int) ipld.Node {
	b.tb.Helper()
	params := helpers.DagBuilderParams{
		Maxlinks:   helpers.DefaultLinksPerBlock,
		RawLeaves:  true,
		CidBuilder: merkledag.V1CidPrefix(),
		Dagserv:    b.dserv,
	}
	db, err := params.New(chunker.NewSizeSplitter(bytes.NewReader(data), int64(chunk)))
	if err != nil {
		b.tb.Fatal(err)
	}
	nd, err := balanced.Layout(db)
	if err != nil {
		b.tb.Fatal(err)
	}
	return nd
}

// entry is a named link of a directory.
type entry struct {
	name string
	c    cid.Cid
}

// dir stores a basic UnixFS directory of entries, in name order, and
// returns it. Entries may link to any codec, as a dag-pb link may.
func (b *builder) dir(entries ...entry) ipld.Node {
	b.tb.Helper()
	slices.SortFunc(entries, func(x, y entry) int { return bytes.Compare([]byte(x.name), []byte(y.name)) })
	nd := merkledag.NodeWithData(unixfs.FolderPBData())
	nd.SetCidBuilder(merkledag.V1CidPrefix())
	for _, e := range entries {
		size := uint64(0)
		if s, err := b.bs.GetSize(context.Background(), e.c); err == nil {
			size = uint64(s)
		}
		if err := nd.AddRawLink(e.name, &ipld.Link{Name: e.name, Cid: e.c, Size: size}); err != nil {
			b.tb.Fatal(err)
		}
	}
	b.add(nd)
	return nd
}

// hamt stores a HAMT-sharded UnixFS directory of entries.
func (b *builder) hamt(entries ...entry) ipld.Node {
	b.tb.Helper()
	ctx := context.Background()
	d, err := uio.NewHAMTDirectory(b.dserv, 0, uio.WithCidBuilder(merkledag.V1CidPrefix()))
	if err != nil {
		b.tb.Fatal(err)
	}
	for _, e := range entries {
		nd, err := b.dserv.Get(ctx, e.c)
		if err != nil {
			b.tb.Fatal(err)
		}
		if err := d.AddChild(ctx, e.name, nd); err != nil {
			b.tb.Fatal(err)
		}
	}
	nd, err := d.GetNode()
	if err != nil {
		b.tb.Fatal(err)
	}
	b.add(nd)
	return nd
}

// document stores a dag-cbor or dag-json document.
func (b *builder) document(codec multicodec.Code, build func(ma datamodel.MapAssembler)) cid.Cid {
	b.tb.Helper()
	nd, err := qp.BuildMap(basicnode.Prototype.Any, -1, build)
	if err != nil {
		b.tb.Fatal(err)
	}
	blk := blockstoretest.MustNodeBlock(b.tb, codec, nd)
	if err := b.bs.Put(context.Background(), blk); err != nil {
		b.tb.Fatal(err)
	}
	return blk.Cid()
}

func (b *builder) add(nd ipld.Node) {
	b.tb.Helper()
	if err := b.dserv.Add(context.Background(), nd); err != nil {
		b.tb.Fatal(err)
	}
}

// get returns a stored block.
func (b *builder) get(c cid.Cid) blocks.Block {
	b.tb.Helper()
	blk, err := b.bs.Get(context.Background(), c)
	if err != nil {
		b.tb.Fatal(err)
	}
	return blk
}

// links returns the links of a stored block, in order.
func (b *builder) links(c cid.Cid) []cid.Cid {
	b.tb.Helper()
	ls, err := dag.Links(b.get(c))
	if err != nil {
		b.tb.Fatal(err)
	}
	return ls
}

// dfs returns the CIDs of root's DAG in depth-first, link order: every
// occurrence if dups, else the first of each.
func (b *builder) dfs(root cid.Cid, dups bool) []cid.Cid {
	b.tb.Helper()
	var out []cid.Cid
	seen := map[cid.Cid]bool{}
	var walk func(c cid.Cid)
	walk = func(c cid.Cid) {
		if seen[c] && !dups {
			return
		}
		seen[c] = true
		out = append(out, c)
		for _, l := range b.links(c) {
			walk(l)
		}
	}
	walk(root)
	return out
}

// car writes root's DAG as a CARv1, blocks in depth-first order, each
// once.
func (b *builder) car(root cid.Cid) []byte {
	b.tb.Helper()
	var buf bytes.Buffer
	w, err := storage.NewWritable(&buf, []cid.Cid{root}, carv2.WriteAsCarV1(true))
	if err != nil {
		b.tb.Fatal(err)
	}
	for _, c := range b.dfs(root, false) {
		if err := w.Put(context.Background(), c.KeyString(), b.get(c).RawData()); err != nil {
			b.tb.Fatal(err)
		}
	}
	if err := w.Finalize(); err != nil {
		b.tb.Fatal(err)
	}
	return buf.Bytes()
}

// hamtShards returns the shard nodes of a HAMT directory, root first, in
// depth-first link order: the blocks that enumerate it.
func (b *builder) hamtShards(root cid.Cid) []cid.Cid {
	b.tb.Helper()
	var out []cid.Cid
	var walk func(c cid.Cid)
	walk = func(c cid.Cid) {
		if c.Prefix().Codec != cid.DagProtobuf {
			return
		}
		nd, err := b.dserv.Get(context.Background(), c)
		if err != nil {
			b.tb.Fatal(err)
		}
		fs, err := unixfs.ExtractFSNode(nd)
		if err != nil || fs.Type() != unixfs.THAMTShard {
			return
		}
		out = append(out, c)
		for _, l := range nd.Links() {
			walk(l.Cid)
		}
	}
	walk(root)
	return out
}

// hamtPath returns the blocks that a lookup of name in a HAMT directory
// reads, root first, ending with the entry's own block.
func (b *builder) hamtPath(root cid.Cid, name string) []cid.Cid {
	b.tb.Helper()
	ctx := context.Background()
	rec := &recordingDAG{DAGService: b.dserv}
	nd, err := b.dserv.Get(ctx, root)
	if err != nil {
		b.tb.Fatal(err)
	}
	d, err := uio.NewHAMTDirectoryFromNode(rec, nd)
	if err != nil {
		b.tb.Fatal(err)
	}
	if _, err := d.Find(ctx, name); err != nil {
		b.tb.Fatal(err)
	}
	return append([]cid.Cid{root}, rec.got...)
}

// recordingDAG records the blocks read through it, in order.
type recordingDAG struct {
	ipld.DAGService
	got []cid.Cid
}

func (r *recordingDAG) Get(ctx context.Context, c cid.Cid) (ipld.Node, error) {
	r.got = append(r.got, c)
	return r.DAGService.Get(ctx, c)
}

// text returns n bytes of readable text that differ with seed.
func text(seed string, n int) []byte {
	var buf bytes.Buffer
	for i := 0; buf.Len() < n; i++ {
		fmt.Fprintf(&buf, "%s line %d: the quick brown fox jumps over the lazy dog\n", seed, i)
	}
	return buf.Bytes()[:n]
}

// The fixtures, each named after the conformance suite's CAR it stands
// for.

// subdirFixture is subdir-with-two-single-block-files.car and, with
// multiblock.txt, subdir-with-mixed-block-files.car and t0118-test-dag.car:
// root/subdir/{ascii.txt, hello.txt, multiblock.txt}, multiblock.txt
// being 1026 bytes in 256-byte chunks (five leaves).
type subdirFixture struct {
	root, subdir, ascii, hello, multi cid.Cid
	multiLeaves                       []cid.Cid
	asciiData, multiData              []byte
}

func buildSubdir(b *builder) subdirFixture {
	var f subdirFixture
	f.asciiData = []byte("hello application/vnd.ipld.car\n")
	f.ascii = b.file(f.asciiData, 1<<20).Cid()
	f.hello = b.file([]byte("hello world\n"), 1<<20).Cid()
	f.multiData = text("multiblock", 1026)
	f.multi = b.file(f.multiData, 256).Cid()
	f.multiLeaves = b.links(f.multi)
	f.subdir = b.dir(entry{"ascii.txt", f.ascii}, entry{"hello.txt", f.hello}, entry{"multiblock.txt", f.multi}).Cid()
	f.root = b.dir(entry{"subdir", f.subdir}).Cid()
	return f
}

// hamtFixture is single-layer-hamt-with-multi-block-files.car: a
// HAMT-sharded directory of 1000 files, 1.txt to 1000.txt, each of
// several blocks.
type hamtFixture struct {
	root  cid.Cid
	files map[string]cid.Cid
}

func buildHAMT(b *builder) hamtFixture {
	f := hamtFixture{files: map[string]cid.Cid{}}
	var entries []entry
	for i := 1; i <= 1000; i++ {
		name := fmt.Sprintf("%d.txt", i)
		c := b.file(text(name, 300), 128).Cid()
		f.files[name] = c
		entries = append(entries, entry{name, c})
	}
	f.root = b.hamt(entries...).Cid()
	return f
}

// cborFixture is dir-with-dag-cbor-with-links.car: a directory holding a
// dag-cbor document whose files map links a one-block and a several-block
// UnixFS file, and a dag-json document like it.
type cborFixture struct {
	root, document, json, single, multi cid.Cid
}

func buildCBOR(b *builder) cborFixture {
	var f cborFixture
	f.single = b.file([]byte("a single block\n"), 1<<20).Cid()
	f.multi = b.file(text("multi", 1000), 256).Cid()
	doc := func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "name", qp.String("document"))
		qp.MapEntry(ma, "files", qp.Map(2, func(ma datamodel.MapAssembler) {
			qp.MapEntry(ma, "single", qp.Link(cidlink.Link{Cid: f.single}))
			qp.MapEntry(ma, "multi", qp.Link(cidlink.Link{Cid: f.multi}))
		}))
	}
	f.document = b.document(multicodec.DagCbor, doc)
	f.json = b.document(multicodec.DagJson, doc)
	f.root = b.dir(entry{"document", f.document}, entry{"document.json", f.json}).Cid()
	return f
}

// dupsFixture is dir-with-duplicate-files.car: ascii.txt and
// ascii-copy.txt hold the same bytes, so the same block.
type dupsFixture struct {
	root, ascii, hello, multi cid.Cid
	multiLeaves               []cid.Cid
}

func buildDups(b *builder) dupsFixture {
	var f dupsFixture
	f.ascii = b.file([]byte("the same bytes twice\n"), 1<<20).Cid()
	f.hello = b.file([]byte("hello world\n"), 1<<20).Cid()
	f.multi = b.file(text("multiblock", 1026), 256).Cid()
	f.multiLeaves = b.links(f.multi)
	f.root = b.dir(entry{"ascii-copy.txt", f.ascii}, entry{"ascii.txt", f.ascii}, entry{"hello.txt", f.hello}, entry{"multiblock.txt", f.multi}).Cid()
	return f
}

// missingFixture is file-3k-and-3-blocks-missing-block.car: a 3 KiB file
// of three 1 KiB leaves, of which tack will lack the middle one.
type missingFixture struct {
	root   cid.Cid
	leaves []cid.Cid
}

func buildMissing(b *builder) missingFixture {
	root := b.file(text("3k", 3072), 1024).Cid()
	return missingFixture{root: root, leaves: b.links(root)}
}

// loadFixture makes tack hold a CAR's DAG, pinned by the admin account.
//
// For now it writes the blocks to the blockstore and records the pin
// through the store; once POST /car is merged it will upload the CAR
// instead, so every gateway test loads content through this one function.
func loadFixture(tb testing.TB, m *Main, car []byte) cid.Cid {
	tb.Helper()
	r, err := carv2.NewBlockReader(bytes.NewReader(car))
	if err != nil {
		tb.Fatal(err)
	}
	if len(r.Roots) != 1 {
		tb.Fatalf("loadFixture: CAR has %d roots, want 1", len(r.Roots))
	}
	status, res, body := postCAR(tb, m.HTTPAddr(), m.AdminToken, "?name=fixture", bytes.NewReader(car), int64(len(car)))
	if status != 200 || len(res.Results) != 1 {
		tb.Fatalf("loadFixture: POST /car: %d %s", status, body)
	}
	if got := res.Results[0].Status; got != tack.StatusPinned {
		tb.Fatalf("loadFixture: the upload of %s is %s, want pinned", r.Roots[0], got)
	}
	return r.Roots[0]
}
