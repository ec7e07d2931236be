package testpeer

import (
	"context"
	"errors"
	"fmt"

	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"

	"github.com/tack-ipfs/tack/dag"
)

const (
	// fetchWindow is how many blocks FetchDAG keeps in flight; bitswap
	// batches wants every ~20 ms, so this sets the pace for small blocks.
	fetchWindow = 128
	// fetchBatch is how many CIDs go into one GetBlocks call.
	fetchBatch = 32
)

// FetchDAG connects to the peers at from, then fetches the whole DAG under
// root over bitswap into this peer's blockstore, verifying the hash of
// every block and following links with dag.Links (so any of tack's four
// codecs works). Blocks already held are read locally. It returns the
// number of distinct blocks in the DAG.
func (p *Peer) FetchDAG(ctx context.Context, root cid.Cid, from []string) (int, error) {
	if err := p.connect(ctx, from); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sess := p.bitswap.NewSession(ctx)

	results := make(chan blocks.Block, fetchWindow)
	errc := make(chan error, 1)
	fetch := func(cs []cid.Cid) {
		ch, err := sess.GetBlocks(ctx, cs)
		got := 0
		if err == nil {
			for b := range ch {
				got++
				select {
				case results <- b:
				case <-ctx.Done():
				}
			}
		}
		if got < len(cs) {
			if err == nil {
				err = ctx.Err()
			}
			select {
			case errc <- fmt.Errorf("testpeer: fetched %d of %d blocks: %v", got, len(cs), err):
			default:
			}
		}
	}

	seen := map[cid.Cid]bool{root: true}
	todo := []cid.Cid{root}
	inflight, count := 0, 0
	// visit counts b and queues its unseen links.
	visit := func(b blocks.Block) error {
		count++
		links, err := dag.Links(b)
		if err != nil {
			return err
		}
		for _, l := range links {
			if !seen[l] {
				seen[l] = true
				todo = append(todo, l)
			}
		}
		return nil
	}
	for len(todo) > 0 || inflight > 0 {
		for len(todo) > 0 && inflight < fetchWindow {
			n := min(fetchBatch, len(todo), fetchWindow-inflight)
			chunk := append([]cid.Cid(nil), todo[:n]...)
			todo = todo[n:]
			var remote []cid.Cid
			for _, c := range chunk {
				b, err := p.bstore.Get(ctx, c)
				if err != nil {
					remote = append(remote, c)
					continue
				}
				if err := visit(b); err != nil {
					return count, err
				}
			}
			if len(remote) > 0 {
				inflight += len(remote)
				go fetch(remote)
			}
		}
		if inflight == 0 {
			continue
		}
		select {
		case b := <-results:
			inflight--
			if err := verify(b); err != nil {
				return count, err
			}
			if err := p.bstore.Put(ctx, b); err != nil {
				return count, err
			}
			if err := visit(b); err != nil {
				return count, err
			}
		case err := <-errc:
			return count, err
		}
	}
	return count, nil
}

// verify checks that a block's data hashes to its CID.
func verify(b blocks.Block) error {
	c, err := b.Cid().Prefix().Sum(b.RawData())
	if err != nil {
		return err
	}
	if !c.Equals(b.Cid()) {
		return fmt.Errorf("testpeer: block %s hashes to %s", b.Cid(), c)
	}
	return nil
}

// connect dials every peer in addrs; it fails only when none connects.
func (p *Peer) connect(ctx context.Context, addrs []string) error {
	mas := make([]multiaddr.Multiaddr, 0, len(addrs))
	for _, a := range addrs {
		ma, err := multiaddr.NewMultiaddr(a)
		if err != nil {
			return fmt.Errorf("testpeer: %w", err)
		}
		mas = append(mas, ma)
	}
	infos, err := peer.AddrInfosFromP2pAddrs(mas...)
	if err != nil {
		return fmt.Errorf("testpeer: %w", err)
	}
	var errs []error
	for _, ai := range infos {
		if err := p.host.Connect(ctx, ai); err != nil {
			errs = append(errs, err)
		}
	}
	if len(infos) > 0 && len(errs) == len(infos) {
		return fmt.Errorf("testpeer: connect: %w", errors.Join(errs...))
	}
	return nil
}

// AllCIDs returns every CID reachable from root in bs, root first, each
// once, following links with dag.Links. It fails if a block is missing
// (with an error wrapping ipld.ErrNotFound) or cannot be decoded.
func AllCIDs(ctx context.Context, bs blockstore.Blockstore, root cid.Cid) ([]cid.Cid, error) {
	seen := map[cid.Cid]bool{root: true}
	out := []cid.Cid{root}
	for i := 0; i < len(out); i++ {
		b, err := bs.Get(ctx, out[i])
		if err != nil {
			return out, fmt.Errorf("testpeer: block %s: %w", out[i], err)
		}
		links, err := dag.Links(b)
		if err != nil {
			return out, err
		}
		for _, l := range links {
			if !seen[l] {
				seen[l] = true
				out = append(out, l)
			}
		}
	}
	return out, nil
}
