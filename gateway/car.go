package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"

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
	r, w := io.Pipe()
	go func() {
		// Traversal decodes blocks with whatever codec their CID names:
		// contain a panic to this response, as boxo does.
		defer func() {
			if rec := recover(); rec != nil {
				slog.Error("gateway: panic during CAR traversal", "path", p.String(), "panic", rec, "stack", string(debug.Stack()))
				_ = w.CloseWithError(errors.New("internal error during CAR traversal"))
			}
		}()
		cw, err := storage.NewWritable(w, []cid.Cid{root},
			car.WriteAsCarV1(true),
			car.AllowDuplicatePuts(params.Duplicates.Bool()),
		)
		if err != nil {
			_ = w.CloseWithError(err)
			return
		}
		_ = w.CloseWithError(walkAll(ctx, root, b.blocks, cw, params.Duplicates.Bool()))
	}()
	return md, r, nil
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
