package testpeer

import (
	"crypto/rand"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// RandomRawCID returns the CID of a random raw block that no peer holds: a
// pin of it can never be fetched.
func RandomRawCID(tb testing.TB) cid.Cid {
	tb.Helper()
	data := make([]byte, 32)
	rand.Read(data)
	mh, err := multihash.Sum(data, multihash.SHA2_256, -1)
	if err != nil {
		tb.Fatal(err)
	}
	return cid.NewCidV1(cid.Raw, mh)
}
