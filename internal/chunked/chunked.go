// Package chunked holds List, a list of integers that grows by chunks of
// a fixed length: appending never copies what it holds and keeps no more
// spare room than one chunk (append's doubling keeps both copies while it
// grows, and up to a quarter more room than it uses).
//
// A list's first chunk is on the Go heap; the chunks after it are mapped
// from the operating system (on Unix) and given back when the list can no
// longer be reached. A long list of an upload's blocks (12 MiB for a
// million blocks) then weighs its size in the process's memory once: on
// the Go heap it would also raise the heap's goal by as much, which the
// garbage collector lets fill with garbage between collections.
package chunked

import (
	"runtime"
	"sync/atomic"
	"unsafe"
)

// Int is what a List holds: integers, which hold no pointers, so that a
// chunk may live outside the Go heap.
type Int interface {
	~int32 | ~uint32 | ~int64 | ~uint64
}

// chunkBits sets the chunks' length: 65,536 entries, 512 KiB of uint64.
// Each mapped chunk is a mapping of its own, and Linux allows a process
// 65,530 by default (vm.max_map_count): a list of a million blocks takes
// 16, where chunks of 8,192 entries took 128. A mapped chunk's pages
// that the list has not reached yet take no memory.
const (
	chunkBits = 16
	chunkLen  = 1 << chunkBits
	chunkMask = chunkLen - 1
)

// List is a list of T that grows by chunks. Its zero value is empty and
// ready; its first chunk grows as a slice does, so that a short list
// costs little and maps nothing. It is not safe for use by several
// goroutines at once, and must not be copied after first use.
type List[T Int] struct {
	chunks [][]T
	n      int
	// owner, once a chunk is mapped, is what the mapped chunks are given
	// back with: when it can no longer be reached (nor the list, which
	// alone points to it).
	owner *owner
}

// owner stands for a list whose chunks are mapped: the cleanup on it
// unmaps mapped.
type owner struct{ mapped *mapped }

// mapped is what an owner's cleanup gives back.
type mapped struct {
	chunks   [][]byte
	unmapped atomic.Bool // for the tests
}

// Len returns how many entries the list holds.
func (l *List[T]) Len() int { return l.n }

// Append adds v at the end.
func (l *List[T]) Append(v T) {
	k := len(l.chunks) - 1
	if k < 0 || len(l.chunks[k]) == chunkLen {
		var c []T
		if k >= 0 {
			c = l.newChunk()
		}
		l.chunks = append(l.chunks, c)
		k++
	}
	l.chunks[k] = append(l.chunks[k], v)
	l.n++
	runtime.KeepAlive(l.owner)
}

// newChunk returns an empty chunk of capacity chunkLen, mapped if it can
// be, else on the Go heap.
func (l *List[T]) newChunk() []T {
	size := chunkLen * int(unsafe.Sizeof(T(0)))
	b := mapChunk(size)
	if b == nil {
		return make([]T, 0, chunkLen)
	}
	if l.owner == nil {
		l.owner = &owner{mapped: &mapped{}}
		runtime.AddCleanup(l.owner, (*mapped).unmap, l.owner.mapped)
	}
	l.owner.mapped.chunks = append(l.owner.mapped.chunks, b)
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), chunkLen)[:0]
}

// unmap gives back the chunks.
func (m *mapped) unmap() {
	for _, b := range m.chunks {
		unmapChunk(b)
	}
	m.chunks = nil
	m.unmapped.Store(true)
}

// Each method that reads or writes a chunk keeps l.owner alive until it
// is done with it: without that, a list whose last use this is could be
// collected, and its chunks unmapped, in the middle of it.

// At returns entry i, which must be less than Len.
func (l *List[T]) At(i int) T {
	v := l.chunks[i>>chunkBits][i&chunkMask]
	runtime.KeepAlive(l.owner)
	return v
}

// Set replaces entry i, which must be less than Len.
func (l *List[T]) Set(i int, v T) {
	l.chunks[i>>chunkBits][i&chunkMask] = v
	runtime.KeepAlive(l.owner)
}

// Swap exchanges entries i and j.
func (l *List[T]) Swap(i, j int) {
	a, b := &l.chunks[i>>chunkBits][i&chunkMask], &l.chunks[j>>chunkBits][j&chunkMask]
	*a, *b = *b, *a
	runtime.KeepAlive(l.owner)
}

// AppendTo appends the list's entries to dst and returns it.
func (l *List[T]) AppendTo(dst []T) []T {
	for _, c := range l.chunks {
		dst = append(dst, c...)
	}
	runtime.KeepAlive(l.owner)
	return dst
}
