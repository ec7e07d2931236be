package chunked

import (
	"slices"
	"testing"
)

// A list matches a slice fed the same entries, across chunk boundaries,
// through At, Set, Swap and Chunks.
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
		if got := slices.Concat(l.Chunks()...); !slices.Equal(got, want) && n > 0 {
			t.Fatalf("n=%d: Chunks differ from the slice", n)
		}
		for i, c := range l.Chunks() {
			if i < len(l.Chunks())-1 && len(c) != chunkLen {
				t.Fatalf("n=%d: chunk %d holds %d entries, want %d", n, i, len(c), chunkLen)
			}
		}
		l.Reset()
		if l.Len() != 0 || l.Chunks() != nil {
			t.Fatalf("n=%d: Reset left %d entries", n, l.Len())
		}
	}
}
