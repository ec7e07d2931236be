package tack

import (
	"strings"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multicodec"
)

// Codecs tack accepts, anywhere in a DAG.
var allowedCodecs = map[uint64]bool{
	uint64(multicodec.Raw):     true,
	uint64(multicodec.DagPb):   true,
	uint64(multicodec.DagCbor): true,
	uint64(multicodec.DagJson): true,
}

// MaxBlockSize is the largest block tack stores (2 MiB, as bitswap allows).
const MaxBlockSize = 2 << 20

// CodecAllowed reports whether tack accepts blocks of the codec.
func CodecAllowed(codec uint64) bool { return allowedCodecs[codec] }

// CodecName returns the multicodec name of a codec, or its number in hex.
func CodecName(codec uint64) string {
	return multicodec.Code(codec).String()
}

// ParseCID parses the cid of a Pin and checks that tack can pin it: it must
// be a CID (not a path or an IPNS name) of an accepted codec.
func ParseCID(s string) (cid.Cid, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return cid.Undef, Errorf(EINVALID, "cid is required")
	}
	if strings.HasPrefix(s, "/ipns/") || strings.HasPrefix(s, "ipns://") {
		return cid.Undef, Errorf(EINVALID, "pinning IPNS names is not supported: resolve the name and pin the CID it points to")
	}
	c, err := cid.Decode(s)
	if err != nil {
		return cid.Undef, Errorf(EINVALID, "cid %q is not a valid CID", truncate(s, 100))
	}
	codec := c.Prefix().Codec
	if codec == uint64(multicodec.Libp2pKey) {
		return cid.Undef, Errorf(EINVALID, "IPLD codec not supported: %s is an IPNS name (libp2p-key); pinning IPNS names is not supported, pin the CID it points to", s)
	}
	if !CodecAllowed(codec) {
		return cid.Undef, Errorf(EINVALID, "IPLD codec not supported: %s; tack accepts raw, dag-pb, dag-cbor and dag-json", CodecName(codec))
	}
	return c, nil
}

// ContentKey is the key under which tack compares CIDs: the CIDv1 of the
// same codec and multihash, in base32. A CIDv0 `Qm…` and its CIDv1 dag-pb
// twin have the same key, whatever base a client wrote them in.
func ContentKey(c cid.Cid) string {
	return cid.NewCidV1(c.Prefix().Codec, c.Hash()).String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
