package tack

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ipfs/boxo/verifcid"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multicodec"
	"github.com/multiformats/go-multihash"
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

// MaxIdentitySize is the most data an identity CID (multihash 0x00, which
// carries its block inline instead of a hash of it) may hold: 128 bytes,
// the largest --inline-limit Kubo's `ipfs add --inline` accepts and the
// limit of boxo's verifcid, which Kubo applies to every CID it fetches.
const MaxIdentitySize = verifcid.DefaultMaxIdentityDigestSize

// MaxCIDLength is the longest cid string ParseCID reads, in bytes. Every
// CID that CheckHash accepts is at most 136 bytes long, which is 1,089
// characters in the longest multibase (base2); anything longer is refused
// before it is decoded.
const MaxCIDLength = 2048

// CheckHash reports why tack refuses the multihash of a CID, or nil: the
// rules boxo's verifcid makes Kubo apply to every CID it fetches. An
// identity CID may inline at most MaxIdentitySize bytes; any other hash
// must be one Kubo accepts (sha2, sha3, blake2b/s from 160 bits, blake3,
// keccak, sha1 for git, …) with a digest of 20 to 128 bytes, so that a
// block can be checked against it. A hash function of a fixed length
// (sha2-256's 32 bytes, go-multihash's DefaultLengths) must have a digest of
// exactly that length: no block that bitswap or a CAR brings can match a
// sha2-256 CID with a 20-byte digest, so a pin of one would only wait out
// its timeout. The extendable-output functions (shake, blake3) may have any
// length verifcid accepts.
func CheckHash(c cid.Cid) error {
	p := c.Prefix()
	name := multihash.Codes[p.MhType]
	if name == "" {
		name = fmt.Sprintf("0x%x", p.MhType)
	}
	err := verifcid.ValidateCid(verifcid.DefaultAllowlist, c)
	if err == nil {
		if n, ok := multihash.DefaultLengths[p.MhType]; ok && !variableLength[p.MhType] && p.MhLength != n {
			return fmt.Errorf("its %s digest is %d bytes, but %s digests are %d bytes", name, p.MhLength, name, n)
		}
		return nil
	}
	switch {
	case p.MhType == multihash.IDENTITY:
		return fmt.Errorf("it is an identity CID with %d bytes of data inline; tack accepts at most %d, the most `ipfs add --inline-limit` allows", p.MhLength, MaxIdentitySize)
	case errors.Is(err, verifcid.ErrPossiblyInsecureHashFunction):
		return fmt.Errorf("its hash function %s is not accepted: tack accepts the hash functions Kubo does, such as sha2-256", name)
	case errors.Is(err, verifcid.ErrDigestTooSmall):
		return fmt.Errorf("its %s digest is %d bytes, too short to check a block against; tack accepts %d to %d bytes", name, p.MhLength, verifcid.DefaultMinDigestSize, verifcid.DefaultMaxDigestSize)
	case errors.Is(err, verifcid.ErrDigestTooLarge):
		return fmt.Errorf("its %s digest is %d bytes; tack accepts %d to %d bytes", name, p.MhLength, verifcid.DefaultMinDigestSize, verifcid.DefaultMaxDigestSize)
	}
	return err
}

// variableLength are the hash functions whose digest may have any length:
// identity, and the extendable-output functions.
var variableLength = map[uint64]bool{
	multihash.IDENTITY:  true,
	multihash.SHAKE_128: true,
	multihash.SHAKE_256: true,
	multihash.BLAKE3:    true,
}

// ParseCID parses the cid of a Pin and checks that tack can pin it: it must
// be a CID (not a path or an IPNS name) of an accepted codec, no longer
// than MaxCIDLength, whose hash CheckHash accepts.
func ParseCID(s string) (cid.Cid, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return cid.Undef, Errorf(EINVALID, "cid is required")
	}
	if strings.HasPrefix(s, "/ipns/") || strings.HasPrefix(s, "ipns://") {
		return cid.Undef, Errorf(EINVALID, "pinning IPNS names is not supported: resolve the name and pin the CID it points to")
	}
	if len(s) > MaxCIDLength {
		return cid.Undef, Errorf(EINVALID, "cid is %d characters long; no CID tack accepts is longer than %d (an identity CID holds at most %d bytes inline)", len(s), MaxCIDLength, MaxIdentitySize)
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
	if err := CheckHash(c); err != nil {
		return cid.Undef, Errorf(EINVALID, "cid %s is refused: %v", truncate(s, 100), err)
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

// MaxDAGDepth is how deep a DAG tack accepts may be: the most links on any
// path from its root to a block (the root is at depth 0). Every walk of a
// whole DAG (the pinner's fetch, POST /car's completeness walk, the
// gateway's CAR, tack verify and the collector's mark) follows the same
// rule, so that every DAG tack accepts can also be served back whole, and
// a deeper one is refused with ErrTooDeep. 1,024 is the traversal depth
// boxo's gateway allows; real UnixFS files and HAMT directories are a few
// levels deep, and only a chain built to be deep reaches it.
const MaxDAGDepth = 1024

// ErrTooDeep is why a DAG deeper than MaxDAGDepth is refused.
var ErrTooDeep = fmt.Errorf("the DAG is deeper than %d links, the most tack accepts", MaxDAGDepth)

// TooDeep is what the user is told of a DAG deeper than MaxDAGDepth: a
// pin request's failure, and POST /car's 400.
func TooDeep(root cid.Cid) *Error {
	return Errorf(EINVALID, "the DAG of %s is deeper than %d links (from its root to its deepest block), the most tack accepts", root, MaxDAGDepth)
}
