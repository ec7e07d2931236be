package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sync"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/gateway"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/boxo/path"
	"github.com/ipfs/go-cid"
	"github.com/ipld/go-car/v2"
	"github.com/ipld/go-car/v2/storage"
	dagpb "github.com/ipld/go-codec-dagpb"
	"github.com/ipld/go-ipld-prime"
	_ "github.com/ipld/go-ipld-prime/codec/cbor"    // as boxo registers them
	_ "github.com/ipld/go-ipld-prime/codec/dagcbor" // as boxo registers them
	_ "github.com/ipld/go-ipld-prime/codec/dagjson" // as boxo registers them
	_ "github.com/ipld/go-ipld-prime/codec/json"    // as boxo registers them
	"github.com/ipld/go-ipld-prime/datamodel"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/node/basicnode"

	"github.com/tack-ipfs/tack"
)

// carOf streams the CAR of a resolved path as boxo's BlocksBackend.GetCAR
// does, block for block in the same order: the blocks its path resolution
// read (pathBlocks), then, for the block the path reached, that block
// (dag-scope=block, or a path that ends within a block), its whole DAG
// (dag-scope=all) or its entity, as boxo streams it. Two differences:
//
// The whole DAG is tack's own walk (walkAll), which does not hash every
// block again on its way out. boxo's traversal reads each block through a
// go-ipld-prime LinkSystem that hashes it (SHA-256 of every byte
// streamed) and, to do so, copies it into a buffer grown from 512 bytes;
// it also decodes every block twice (once for its NodeGetter, once for
// the traversal). Here the LinkSystem is marked TrustedStorage and gets
// the block's bytes without a copy:
//
//   - every block in tack's blockstore was checked against its CID on the
//     way in (bitswap checks what the pinner fetches; uploads are hashed
//     in http/upload.go), blocks are stored under their multihash, and
//     `tack verify` re-hashes stored blocks to catch rot on disk;
//   - a CAR is the trustless response: its client hashes every block it
//     receives, and the gateway spec leaves verification to it. A block
//     rotted on disk since the last verify reaches the client, which
//     rejects it, where boxo would cut the stream short: either way the
//     client gets no wrong data.
//
// And the path was resolved once, in linear time (resolve); its blocks
// are read again as the stream reaches them rather than held in memory.
func (b *heldBackend) carOf(ctx context.Context, p path.ImmutablePath, md gateway.ContentPathMetadata, pathBlocks []cid.Cid, params gateway.CarParams) io.ReadCloser {
	last := md.LastSegment.RootCid()
	return &carStream{walk: func(w io.Writer) (err error) {
		// Traversal decodes blocks with whatever codec their CID names:
		// contain a panic to this response, as boxo does.
		defer func() {
			if rec := recover(); rec != nil {
				b.log.Error("gateway: panic during CAR traversal", "path", p.String(), "panic", rec, "stack", string(debug.Stack()))
				err = errors.New("internal error during CAR traversal")
			}
		}()
		dups := params.Duplicates.Bool()
		cw, err := storage.NewWritable(w, []cid.Cid{last},
			car.WriteAsCarV1(true),
			car.AllowDuplicatePuts(dups),
		)
		if err != nil {
			return err
		}
		put := func(c cid.Cid) error {
			blk, err := b.blocks.GetBlock(ctx, c)
			if err != nil {
				return err
			}
			return cw.Put(ctx, blk.Cid().KeyString(), blk.RawData())
		}
		for _, c := range pathBlocks {
			if err := put(c); err != nil {
				return err
			}
		}
		switch {
		case params.Scope == gateway.DagScopeAll || b.wholeFile(ctx, last, params):
			return walkAll(ctx, last, b.blocks, cw, dups)
		case params.Scope == gateway.DagScopeBlock || len(md.LastSegmentRemainder) > 0:
			// Within a block, boxo's entity is the block alone.
			return put(last)
		}
		return b.entityAfter(ctx, last, params, cw)
	}}
}

// wholeFile reports whether the entity CAR of c is its whole DAG, which
// walkAll streams: a UnixFS file, all its bytes (no entity-bytes, or 0:*).
//
// boxo reads the file through go-unixfsnode's reader to find its blocks,
// every occurrence of a repeated chunk again even when the CAR leaves
// duplicates out: a diamond-shaped file of 41 blocks, 1 TiB long, kept it
// reading for nothing for hours. walkAll visits each block once without
// duplicates, in the same depth-first order.
func (b *heldBackend) wholeFile(ctx context.Context, c cid.Cid, params gateway.CarParams) bool {
	if params.Scope != gateway.DagScopeEntity || c.Prefix().Codec != cid.DagProtobuf {
		return false
	}
	if r := params.Range; r != nil && (r.From != 0 || r.To != nil) {
		return false
	}
	blk, err := b.blocks.GetBlock(ctx, c)
	if err != nil {
		return false // boxo's walk answers it
	}
	nd, err := merkledag.DecodeProtobuf(blk.RawData())
	if err != nil {
		return false
	}
	fsn, err := unixfs.FSNodeFromBytes(nd.Data())
	return err == nil && fsn.Type() == unixfs.TFile
}

// entityAfter writes the entity of the block c (dag-scope=entity) to cw
// after a path's blocks: boxo's own CAR of /ipfs/{c}, its blocks put
// through cw, so that duplicates are left out across both as boxo does.
func (b *heldBackend) entityAfter(ctx context.Context, c cid.Cid, params gateway.CarParams, cw storage.WritableCar) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	_, rc, err := b.BlocksBackend.GetCAR(ctx, path.FromCid(c), params)
	if err != nil {
		return err
	}
	defer rc.Close()
	r, err := car.NewBlockReader(rc, car.WithTrustedCAR(true))
	if err != nil {
		return err
	}
	for {
		blk, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := cw.Put(ctx, blk.Cid().KeyString(), blk.RawData()); err != nil {
			return err
		}
	}
}

// carStream is a CAR that walk writes. boxo's handler copies it to the
// response with io.Copy, which calls WriteTo: walk then writes each block
// straight to the response, rather than through an io.Pipe and io.Copy's
// 32 KiB buffer (a copy, and a pipe hand-off and a write(2) every 32 KiB
// of a 1 MiB block). Read, for any other reader, runs walk on a goroutine
// of its own into a pipe, as boxo does.
type carStream struct {
	walk func(w io.Writer) error

	mu      sync.Mutex
	started bool
	closed  bool
	r       *io.PipeReader
}

var errCARClosed = errors.New("gateway: read of a closed CAR stream")

// start claims the stream for one way of reading it.
func (s *carStream) start() (first bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, errCARClosed
	}
	first = !s.started
	s.started = true
	return first, nil
}

func (s *carStream) WriteTo(w io.Writer) (int64, error) {
	first, err := s.start()
	if err != nil {
		return 0, err
	}
	if !first {
		return io.Copy(w, struct{ io.Reader }{s})
	}
	s.mu.Lock()
	s.r = nil // never a pipe: Read after WriteTo finds the stream spent
	s.mu.Unlock()
	cw := &countingWriter{w: w}
	err = s.walk(cw)
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return cw.n, err
}

func (s *carStream) Read(p []byte) (int, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, errCARClosed
	}
	if !s.started {
		s.started = true
		r, w := io.Pipe()
		s.r = r
		go func() { _ = w.CloseWithError(s.walk(w)) }()
	}
	r := s.r
	s.mu.Unlock()
	if r == nil {
		return 0, errCARClosed
	}
	return r.Read(p)
}

func (s *carStream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.r != nil {
		// Ends a walk blocked on the pipe.
		return s.r.Close()
	}
	return nil
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// walkAll writes every block of the DAG under root to cw, in the order of
// boxo's walkGatewaySimpleSelector for dag-scope=all: depth first, each
// block's links in the order of its data model, every occurrence if dups
// and else the first of each.
//
// It is a walk of its own rather than go-ipld-prime's selector traversal
// so that depth counts links, as tack.MaxDAGDepth does: the traversal
// counts data-model path segments (three a dag-pb link), so boxo's limit
// of 1,024 of them cut off DAGs tack accepts. A block deeper than
// tack.MaxDAGDepth ends the walk with tack.ErrTooDeep. Every read is
// charged to the request (budgetStore), so the walk ends when the request
// does, and a diamond with dups costs one read per occurrence.
func walkAll(ctx context.Context, root cid.Cid, bs blockservice.BlockService, cw storage.WritableCar, dups bool) error {
	lsys := cidlink.DefaultLinkSystem()
	lsys.TrustedStorage = true
	lsys.StorageReadOpener = func(lctx ipld.LinkContext, lnk ipld.Link) (io.Reader, error) {
		cl, ok := lnk.(cidlink.Link)
		if !ok {
			return nil, fmt.Errorf("invalid link type for loading: %v", lnk)
		}
		blk, err := bs.GetBlock(ctx, cl.Cid)
		if err != nil {
			return nil, err
		}
		if err := cw.Put(ctx, blk.Cid().KeyString(), blk.RawData()); err != nil {
			return nil, err
		}
		// A *bytes.Buffer: the raw codec takes its Bytes() without a copy.
		return bytes.NewBuffer(blk.RawData()), nil
	}
	// dag-pb as go-codec-dagpb's PBNode, as boxo's chooser does; any
	// other codec as a basic node. Either way, links come in the order
	// the traversal meets them.
	chooser := dagpb.AddSupportToChooser(func(ipld.Link, ipld.LinkContext) (ipld.NodePrototype, error) {
		return basicnode.Prototype.Any, nil
	})
	lctx := ipld.LinkContext{Ctx: ctx}
	load := func(c cid.Cid) ([]cid.Cid, error) {
		lnk := cidlink.Link{Cid: c}
		np, err := chooser(lnk, lctx)
		if err != nil {
			return nil, err
		}
		nd, err := lsys.Load(lctx, lnk, np)
		if err != nil {
			return nil, err
		}
		return links(nd)
	}

	var seen map[cid.Cid]struct{}
	if !dups {
		seen = map[cid.Cid]struct{}{}
	}
	first, err := load(root)
	if err != nil {
		return err
	}
	// stack[d] holds the links of the block at depth d not walked yet.
	stack := [][]cid.Cid{first}
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if len(*top) == 0 {
			stack = stack[:len(stack)-1]
			continue
		}
		c := (*top)[0]
		*top = (*top)[1:]
		if seen != nil {
			if _, ok := seen[c]; ok {
				continue
			}
			seen[c] = struct{}{}
		}
		if len(stack) > tack.MaxDAGDepth {
			return tack.ErrTooDeep
		}
		ls, err := load(c)
		if err != nil {
			return err
		}
		stack = append(stack, ls)
	}
	return nil
}

// links returns the links of a decoded block in the order a traversal of
// its data model meets them, without recursion: a block may nest deep.
func links(nd datamodel.Node) ([]cid.Cid, error) {
	var out []cid.Cid
	if pb, ok := nd.(dagpb.PBNode); ok {
		it := pb.FieldLinks().Iterator()
		for !it.Done() {
			_, l := it.Next()
			cl, ok := l.FieldHash().Link().(cidlink.Link)
			if !ok {
				return nil, fmt.Errorf("invalid link type: %v", l.FieldHash().Link())
			}
			out = append(out, cl.Cid)
		}
		return out, nil
	}
	type iter interface {
		Done() bool
	}
	var stack []iter
	add := func(n datamodel.Node) error {
		switch n.Kind() {
		case datamodel.Kind_Link:
			l, err := n.AsLink()
			if err != nil {
				return err
			}
			cl, ok := l.(cidlink.Link)
			if !ok {
				return fmt.Errorf("invalid link type: %v", l)
			}
			out = append(out, cl.Cid)
		case datamodel.Kind_Map:
			stack = append(stack, n.MapIterator())
		case datamodel.Kind_List:
			stack = append(stack, n.ListIterator())
		}
		return nil
	}
	if err := add(nd); err != nil {
		return nil, err
	}
	for len(stack) > 0 {
		top := stack[len(stack)-1]
		if top == nil || top.Done() {
			stack = stack[:len(stack)-1]
			continue
		}
		var v datamodel.Node
		var err error
		switch it := top.(type) {
		case datamodel.MapIterator:
			_, v, err = it.Next()
		case datamodel.ListIterator:
			_, v, err = it.Next()
		}
		if err != nil {
			return nil, err
		}
		if err := add(v); err != nil {
			return nil, err
		}
	}
	return out, nil
}
