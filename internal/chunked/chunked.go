// Package chunked holds List, a slice that grows by chunks of a fixed
// length: appending never copies what it holds, and it keeps no more
// spare room than one chunk, so a list of a million entries weighs what
// they weigh, with no second copy of them while it grows (append's
// doubling keeps both, and up to a quarter more room than it uses).
package chunked

// chunkBits sets the chunks' length: 8,192 entries, 64 KiB of uint64.
const (
	chunkBits = 13
	chunkLen  = 1 << chunkBits
	chunkMask = chunkLen - 1
)

// List is a list of T that grows by chunks. Its zero value is empty and
// ready; its first chunk grows as a slice does, so that a short list
// costs little. It is not safe for use by several goroutines at once.
type List[T any] struct {
	chunks [][]T
	n      int
}

// Len returns how many entries the list holds.
func (l *List[T]) Len() int { return l.n }

// Append adds v at the end.
func (l *List[T]) Append(v T) {
	k := len(l.chunks) - 1
	if k < 0 || len(l.chunks[k]) == chunkLen {
		c := []T(nil)
		if k >= 0 {
			c = make([]T, 0, chunkLen)
		}
		l.chunks = append(l.chunks, c)
		k++
	}
	l.chunks[k] = append(l.chunks[k], v)
	l.n++
}

// At returns entry i, which must be less than Len.
func (l *List[T]) At(i int) T { return l.chunks[i>>chunkBits][i&chunkMask] }

// Set replaces entry i, which must be less than Len.
func (l *List[T]) Set(i int, v T) { l.chunks[i>>chunkBits][i&chunkMask] = v }

// Swap exchanges entries i and j.
func (l *List[T]) Swap(i, j int) {
	a, b := &l.chunks[i>>chunkBits][i&chunkMask], &l.chunks[j>>chunkBits][j&chunkMask]
	*a, *b = *b, *a
}

// Chunks returns the list's entries in order, as slices of it: changing
// an entry of one changes the list's.
func (l *List[T]) Chunks() [][]T { return l.chunks }

// Reset empties the list and lets go of its chunks.
func (l *List[T]) Reset() { *l = List[T]{} }
