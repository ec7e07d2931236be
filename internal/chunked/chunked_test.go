package chunked

import (
	"runtime"
	"slices"
	"testing"
)

// A list matches a slice fed the same entries, across chunk boundaries
// (the first chunk on the heap, the others mapped), through At, Set,
// Swap and AppendTo.
func TestList(t *testing.T) {
	for _, n := range []int{0, 1, chunkLen - 1, chunkLen, chunkLen + 1, 3*chunkLen + 17} {
		var l List[uint64]
		var want []uint64
		for i := range n {
			v := uint64(i)*2654435761 + 7
			l.Append(v)
			want = append(want, v)
		}
		if l.Len() != n {
			t.Fatalf("n=%d: Len %d", n, l.Len())
		}
		for i := range n {
			if l.At(i) != want[i] {
				t.Fatalf("n=%d: At(%d) = %d, want %d", n, i, l.At(i), want[i])
			}
		}
		if n > 1 {
			l.Swap(0, n-1)
			want[0], want[n-1] = want[n-1], want[0]
			l.Set(n/2, 42)
			want[n/2] = 42
		}
		if got := l.AppendTo(nil); !slices.Equal(got, want) {
			t.Fatalf("n=%d: AppendTo differs from the slice", n)
		}
		if mapped := n > chunkLen; (l.owner != nil) != mapped {
			t.Errorf("n=%d: owner %v, want mapped chunks: %v", n, l.owner, mapped)
		}
		for i, c := range l.chunks {
			if i < len(l.chunks)-1 && len(c) != chunkLen {
				t.Fatalf("n=%d: chunk %d holds %d entries, want %d", n, i, len(c), chunkLen)
			}
		}
	}
}

// Lists of every width come and go while collections run: each reads
// back what it was given (a chunk unmapped too early would crash or
// differ), and the chunks of lists no longer reachable are unmapped.
func TestListCollected(t *testing.T) {
	var gone []*mapped
	for round := range 20 {
		var a List[uint32]
		var b List[int64]
		for i := range 4*chunkLen + round {
			a.Append(uint32(i))
			b.Append(int64(-i))
			if i%chunkLen == 0 {
				runtime.GC()
			}
		}
		for i := range a.Len() {
			if a.At(i) != uint32(i) || b.At(i) != int64(-i) {
				t.Fatalf("round %d: entry %d reads %d and %d", round, i, a.At(i), b.At(i))
			}
		}
		gone = append(gone, a.owner.mapped, b.owner.mapped)
	}
	for range 10 {
		runtime.GC()
		left := 0
		for _, m := range gone {
			if !m.unmapped.Load() {
				left++
			}
		}
		if left == 0 {
			return
		}
	}
	t.Error("the chunks of lists no longer reachable were not unmapped")
}
