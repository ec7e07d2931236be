package unixfsimport

import (
	"context"
	"errors"
	"fmt"

	"github.com/ipfs/boxo/ipld/merkledag"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/multiformats/go-multicodec"

	"github.com/tack-ipfs/tack/upload"
)

// dagService is the ipld.DAGService that boxo's importer builds the DAG
// with: it stores nodes through the upload's Sink, and reads them back
// from it.
type dagService struct {
	sink *upload.Sink
	// skip is a node stored already, that a folder being given it stores
	// again: skipped, so that it counts once against the account's room.
	skip cid.Cid
}

var _ ipld.DAGService = (*dagService)(nil)

func (d *dagService) Add(ctx context.Context, nd ipld.Node) error {
	if d.skip.Defined() && nd.Cid().Equals(d.skip) {
		return nil
	}
	return d.sink.Put(ctx, nd)
}

func (d *dagService) AddMany(ctx context.Context, nds []ipld.Node) error {
	bs := make([]blocks.Block, len(nds))
	for i, nd := range nds {
		bs[i] = nd
	}
	return d.sink.Put(ctx, bs...)
}

func (d *dagService) Get(ctx context.Context, c cid.Cid) (ipld.Node, error) {
	b, err := d.sink.Get(ctx, c)
	if err != nil {
		return nil, err
	}
	switch multicodec.Code(c.Prefix().Codec) {
	case multicodec.DagPb:
		return merkledag.DecodeProtobufBlock(b)
	case multicodec.Raw:
		return merkledag.DecodeRawBlock(b)
	}
	return nil, fmt.Errorf("block %s is not a UnixFS block", c)
}

func (d *dagService) GetMany(ctx context.Context, cs []cid.Cid) <-chan *ipld.NodeOption {
	out := make(chan *ipld.NodeOption, len(cs))
	for _, c := range cs {
		nd, err := d.Get(ctx, c)
		out <- &ipld.NodeOption{Node: nd, Err: err}
	}
	close(out)
	return out
}

// errRemove is what the importer would get if it removed a node: an
// upload's blocks are taken back by its session, if at all.
var errRemove = errors.New("an upload removes no blocks")

func (d *dagService) Remove(context.Context, cid.Cid) error       { return errRemove }
func (d *dagService) RemoveMany(context.Context, []cid.Cid) error { return errRemove }
