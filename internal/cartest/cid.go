package cartest

import (
	"testing"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multicodec"
	"github.com/multiformats/go-multihash"
)

// CID returns a CIDv1 of the codec with a sha2-256 hash of data, for
// blocks of any codec, refused ones too.
func CID(tb testing.TB, codec multicodec.Code, data []byte) cid.Cid {
	tb.Helper()
	c, err := cid.V1Builder{Codec: uint64(codec), MhType: multihash.SHA2_256}.Sum(data)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// Identity returns the raw CIDv1 that holds data inline (an identity
// multihash), of any length.
func Identity(tb testing.TB, data []byte) cid.Cid {
	tb.Helper()
	mh, err := multihash.Sum(data, multihash.IDENTITY, -1)
	if err != nil {
		tb.Fatal(err)
	}
	return cid.NewCidV1(cid.Raw, mh)
}

// Block returns the block of data under c, which must match it.
func Block(tb testing.TB, c cid.Cid, data []byte) blocks.Block {
	tb.Helper()
	b, err := blocks.NewBlockWithCid(data, c)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
