package blockstore_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tack-ipfs/tack/blockstore/blockstoretest"
)

// BenchmarkLocalPinLarge stores 256 MiB in 256 KiB blocks from 4 writers,
// a block at a time as the pinner's walk does, then syncs them as a pin's
// end does: the time until the blocks are durable.
func BenchmarkLocalPinLarge(b *testing.B) {
	ctx := context.Background()
	const size, n = 256 << 10, 1024
	b.SetBytes(size * n)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		l := MustOpenLocal(b, filepath.Join(b.TempDir(), "blocks"))
		bl := blockstoretest.RandomBlocks(b, n, size)
		b.StartTimer()
		var wg sync.WaitGroup
		next := make(chan int, n)
		for j := range n {
			next <- j
		}
		close(next)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range next {
					if err := l.PutMany(ctx, bl[j:j+1]); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if err := l.Sync(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		l.Close()
	}
}
