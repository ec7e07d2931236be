package gc

import "encoding/binary"

// newLog lists the blocks an upload session stored new, for Undo: for
// each its size and its multihash, as records of two varints and the
// multihash's bytes in chunks of newLogChunk bytes. A sha2-256 block
// costs 37 bytes here, where a blockstore.Stored and its CID's string
// weigh 80; the list grows without copying what it holds.
type newLog struct {
	chunks [][]byte
	n      int // records
}

// newLogChunk is the length of newLog's chunks after the first, which
// starts at newLogFirst so that a small upload's list costs little.
const (
	newLogChunk = 64 << 10
	newLogFirst = 4 << 10
)

// add records a block's multihash and size.
func (l *newLog) add(mh []byte, size int) {
	need := 2*binary.MaxVarintLen64 + len(mh)
	k := len(l.chunks) - 1
	if k < 0 || cap(l.chunks[k])-len(l.chunks[k]) < need {
		n := newLogChunk
		if k < 0 {
			n = newLogFirst
		}
		l.chunks = append(l.chunks, make([]byte, 0, max(n, need)))
		k++
	}
	c := binary.AppendUvarint(l.chunks[k], uint64(size))
	c = binary.AppendUvarint(c, uint64(len(mh)))
	l.chunks[k] = append(c, mh...)
	l.n++
}

// each calls fn with every block's multihash and size, in the order
// added. mh is part of the list: fn must copy it to keep it.
func (l *newLog) each(fn func(mh []byte, size int)) {
	for _, c := range l.chunks {
		for len(c) > 0 {
			size, k := binary.Uvarint(c)
			c = c[k:]
			n, k := binary.Uvarint(c)
			c = c[k:]
			fn(c[:n], int(size))
			c = c[n:]
		}
	}
}
