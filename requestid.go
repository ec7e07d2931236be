package tack

import (
	"crypto/rand"
	"encoding/hex"
)

// NewRequestID returns a random UUIDv4: an opaque, URL-safe requestid,
// which a store gives a new request that has none.
func NewRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
