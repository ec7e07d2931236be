package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"

	bsfetcher "github.com/ipfs/boxo/fetcher/impl/blockservice"
	"github.com/ipfs/boxo/files"
	"github.com/ipfs/boxo/gateway"
	"github.com/ipfs/boxo/path"
	"github.com/ipfs/boxo/path/resolver"
	"github.com/ipfs/go-cid"
	format "github.com/ipfs/go-ipld-format"
	"github.com/ipfs/go-unixfsnode"
	dagpb "github.com/ipld/go-codec-dagpb"
	"github.com/ipld/go-ipld-prime"
	"github.com/ipld/go-ipld-prime/datamodel"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
)

// resolve resolves a path segment by segment, each from the node the one
// before reached: linear in the path's length. boxo's BlocksBackend
// resolves every prefix of the path from the root again (for its
// X-Ipfs-Roots), each with a selector as deep as the prefix, which costs
// more than the square of the length (a 400-segment path took 4.3
// CPU-seconds).
//
// The result is what boxo's ResolvePath returns: the CID each segment
// but the last resolved to (PathSegmentRoots, the root first), and the
// last one's block and the segments within it (LastSegment,
// LastSegmentRemainder). UnixFS directories, HAMT shards and dag-pb link
// names resolve as boxo's resolver does, through go-unixfsnode's
// reification. read, if not nil, is told each block read, in order.
func (b *heldBackend) resolve(ctx context.Context, p path.ImmutablePath, read func(cid.Cid)) (gateway.ContentPathMetadata, error) {
	lsys := cidlink.DefaultLinkSystem()
	lsys.TrustedStorage = true
	lsys.NodeReifier = unixfsnode.Reify
	lsys.StorageReadOpener = func(lctx ipld.LinkContext, lnk ipld.Link) (io.Reader, error) {
		cl, ok := lnk.(cidlink.Link)
		if !ok {
			return nil, fmt.Errorf("invalid link type for loading: %v", lnk)
		}
		blk, err := b.blocks.GetBlock(ctx, cl.Cid)
		if err != nil {
			return nil, err
		}
		if read != nil {
			read(cl.Cid)
		}
		return bytes.NewReader(blk.RawData()), nil
	}
	chooser := dagpb.AddSupportToChooser(bsfetcher.DefaultPrototypeChooser)
	lctx := ipld.LinkContext{Ctx: ctx}
	load := func(c cid.Cid) (datamodel.Node, error) {
		lnk := cidlink.Link{Cid: c}
		np, err := chooser(lnk, lctx)
		if err != nil {
			return nil, err
		}
		return lsys.Load(lctx, lnk, np)
	}

	segments := p.Segments()[2:]
	cur := p.RootCid()
	var (
		node      datamodel.Node // cur's node, or one within it; nil until needed
		remainder []string
		roots     = make([]cid.Cid, 0, len(segments))
	)
	for _, seg := range segments {
		roots = append(roots, cur)
		if node == nil {
			nd, err := load(cur)
			if err != nil {
				if format.IsNotFound(err) && cur.Equals(p.RootCid()) {
					return gateway.ContentPathMetadata{}, format.ErrNotFound{Cid: cur}
				}
				if format.IsNotFound(err) {
					return gateway.ContentPathMetadata{}, &resolver.ErrNoLink{Name: seg, Node: cur}
				}
				return gateway.ContentPathMetadata{}, err
			}
			node = nd
		}
		child, err := node.LookupBySegment(datamodel.ParsePathSegment(seg))
		if err != nil {
			if ctx.Err() != nil {
				return gateway.ContentPathMetadata{}, context.Cause(ctx)
			}
			return gateway.ContentPathMetadata{}, &resolver.ErrNoLink{Name: seg, Node: cur}
		}
		if child.Kind() != datamodel.Kind_Link {
			node = child
			remainder = append(remainder, seg)
			continue
		}
		lnk, err := child.AsLink()
		if err != nil {
			return gateway.ContentPathMetadata{}, err
		}
		cl, ok := lnk.(cidlink.Link)
		if !ok {
			return gateway.ContentPathMetadata{}, fmt.Errorf("path %s resolves to a link that is not a CID link: %v", p, lnk)
		}
		cur, node, remainder = cl.Cid, nil, nil
	}
	last, err := path.Join(path.FromCid(cur), remainder...)
	if err != nil {
		return gateway.ContentPathMetadata{}, err
	}
	lastSegment, err := path.NewImmutablePath(last)
	if err != nil {
		return gateway.ContentPathMetadata{}, err
	}
	return gateway.ContentPathMetadata{
		PathSegmentRoots:     roots,
		LastSegment:          lastSegment,
		LastSegmentRemainder: remainder,
	}, nil
}

// hasPath reports whether p has segments after its CID.
func hasPath(p path.ImmutablePath) bool { return len(p.Segments()) > 2 }

// resolved is what boxo's BlocksBackend returned for the block a path
// resolved to, with the path's metadata in place of the block's.
func resolved(md, got gateway.ContentPathMetadata) gateway.ContentPathMetadata {
	got.PathSegmentRoots = md.PathSegmentRoots
	got.LastSegment = md.LastSegment
	got.LastSegmentRemainder = md.LastSegmentRemainder
	return got
}

// ResolvePath resolves p in linear time (see resolve).
func (b *heldBackend) ResolvePath(ctx context.Context, p path.ImmutablePath) (gateway.ContentPathMetadata, error) {
	if !hasPath(p) {
		return b.BlocksBackend.ResolvePath(ctx, p)
	}
	return b.resolve(ctx, p, nil)
}

// Get resolves p, then serves the block it reached as boxo does.
func (b *heldBackend) Get(ctx context.Context, p path.ImmutablePath, ranges ...gateway.ByteRange) (gateway.ContentPathMetadata, *gateway.GetResponse, error) {
	if !hasPath(p) {
		return b.BlocksBackend.Get(ctx, p, ranges...)
	}
	md, err := b.resolve(ctx, p, nil)
	if err != nil {
		return md, nil, err
	}
	got, resp, err := b.BlocksBackend.Get(ctx, path.FromCid(md.LastSegment.RootCid()), ranges...)
	return resolved(md, got), resp, err
}

// GetAll resolves p, then serves the block it reached as boxo does.
func (b *heldBackend) GetAll(ctx context.Context, p path.ImmutablePath) (gateway.ContentPathMetadata, files.Node, error) {
	if !hasPath(p) {
		return b.BlocksBackend.GetAll(ctx, p)
	}
	md, err := b.resolve(ctx, p, nil)
	if err != nil {
		return md, nil, err
	}
	got, n, err := b.BlocksBackend.GetAll(ctx, path.FromCid(md.LastSegment.RootCid()))
	return resolved(md, got), n, err
}

// GetBlock resolves p, then serves the block it reached as boxo does.
func (b *heldBackend) GetBlock(ctx context.Context, p path.ImmutablePath) (gateway.ContentPathMetadata, files.File, error) {
	if !hasPath(p) {
		return b.BlocksBackend.GetBlock(ctx, p)
	}
	md, err := b.resolve(ctx, p, nil)
	if err != nil {
		return md, nil, err
	}
	got, f, err := b.BlocksBackend.GetBlock(ctx, path.FromCid(md.LastSegment.RootCid()))
	return resolved(md, got), f, err
}

// Head resolves p, then answers for the block it reached as boxo does.
func (b *heldBackend) Head(ctx context.Context, p path.ImmutablePath) (gateway.ContentPathMetadata, *gateway.HeadResponse, error) {
	if !hasPath(p) {
		return b.BlocksBackend.Head(ctx, p)
	}
	md, err := b.resolve(ctx, p, nil)
	if err != nil {
		return md, nil, err
	}
	got, resp, err := b.BlocksBackend.Head(ctx, path.FromCid(md.LastSegment.RootCid()))
	return resolved(md, got), resp, err
}

// IsCached reports whether tack holds the block p resolves to.
func (b *heldBackend) IsCached(ctx context.Context, p path.Path) bool {
	im, err := path.NewImmutablePath(p)
	if err != nil || !hasPath(im) {
		return b.BlocksBackend.IsCached(ctx, p)
	}
	md, err := b.resolve(ctx, im, nil)
	if err != nil {
		return false
	}
	has, _ := b.held.Has(ctx, md.LastSegment.RootCid())
	return has
}
