package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"sync"

	"github.com/ipfs/boxo/blockservice"
	bsfetcher "github.com/ipfs/boxo/fetcher/impl/blockservice"
	"github.com/ipfs/boxo/gateway"
	"github.com/ipfs/boxo/path"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-unixfsnode"
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
	"github.com/ipld/go-ipld-prime/schema"
	"github.com/ipld/go-ipld-prime/traversal"
	"github.com/ipld/go-ipld-prime/traversal/selector"
	selectorparse "github.com/ipld/go-ipld-prime/traversal/selector/parse"
)

// trustedCAR streams the CAR of a whole DAG (/ipfs/{cid}?format=car with
// dag-scope=all, the default, and no path) as boxo's BlocksBackend.GetCAR
// does, block for block in the same order, with one difference: it does
// not hash every block again on its way out.
//
// boxo's traversal reads each block through a go-ipld-prime LinkSystem
// that hashes it (SHA-256 of every byte streamed) and, to do so, copies it
// into a buffer grown from 512 bytes; it also decodes every block twice
// (once for its NodeGetter, once for the traversal). Here the LinkSystem
// is marked TrustedStorage and gets the block's bytes without a copy:
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
// Everything else (paths, dag-scope=entity and block, entity-bytes) is
// boxo's own code.
func (b *heldBackend) trustedCAR(ctx context.Context, p path.ImmutablePath, params gateway.CarParams) (gateway.ContentPathMetadata, io.ReadCloser, error) {
	md, err := b.ResolvePath(ctx, p)
	if err != nil {
		return gateway.ContentPathMetadata{}, nil, err
	}
	root := md.LastSegment.RootCid()
	return md, &carStream{walk: func(w io.Writer) (err error) {
		// Traversal decodes blocks with whatever codec their CID names:
		// contain a panic to this response, as boxo does.
		defer func() {
			if rec := recover(); rec != nil {
				slog.Error("gateway: panic during CAR traversal", "path", p.String(), "panic", rec, "stack", string(debug.Stack()))
				err = errors.New("internal error during CAR traversal")
			}
		}()
		cw, err := storage.NewWritable(w, []cid.Cid{root},
			car.WriteAsCarV1(true),
			car.AllowDuplicatePuts(params.Duplicates.Bool()),
		)
		if err != nil {
			return err
		}
		return walkAll(ctx, root, b.blocks, cw, params.Duplicates.Bool())
	}}, nil
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
// boxo's walkGatewaySimpleSelector for dag-scope=all.
func walkAll(ctx context.Context, root cid.Cid, bs blockservice.BlockService, cw storage.WritableCar, dups bool) error {
	lsys := cidlink.DefaultLinkSystem()
	unixfsnode.AddUnixFSReificationToLinkSystem(&lsys)
	lsys.TrustedStorage = true
	lsys.StorageReadOpener = func(lctx ipld.LinkContext, lnk ipld.Link) (io.Reader, error) {
		if lctx.LinkPath.Len() > gateway.DefaultMaxTraversalDepth {
			return nil, fmt.Errorf("%w of %d", gateway.ErrTraversalTooDeep, gateway.DefaultMaxTraversalDepth)
		}
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

	lctx := ipld.LinkContext{Ctx: ctx}
	rootLink := cidlink.Link{Cid: root}
	pc := dagpb.AddSupportToChooser(func(lnk ipld.Link, lnkCtx ipld.LinkContext) (ipld.NodePrototype, error) {
		if tlnkNd, ok := lnkCtx.LinkNode.(schema.TypedLinkNode); ok {
			return tlnkNd.LinkTargetNodePrototype(), nil
		}
		return basicnode.Prototype.Any, nil
	})
	np, err := pc(rootLink, lctx)
	if err != nil {
		return err
	}
	rootNode, err := lsys.Load(lctx, rootLink, np)
	if err != nil {
		return err
	}
	sel, err := selector.ParseSelector(selectorparse.CommonSelector_ExploreAllRecursively)
	if err != nil {
		return err
	}
	progress := traversal.Progress{
		Cfg: &traversal.Config{
			Ctx:                            ctx,
			LinkSystem:                     lsys,
			LinkTargetNodePrototypeChooser: bsfetcher.DefaultPrototypeChooser,
			LinkVisitOnlyOnce:              !dups,
		},
	}
	return progress.WalkMatching(rootNode, sel, func(traversal.Progress, datamodel.Node) error { return nil })
}
