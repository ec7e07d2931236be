package pinner

import (
	"context"
	"sync"
)

// Budget is the number of blocks that every fetch together may want from
// the network at once. Fetches take from it before they ask for blocks and
// give back as blocks arrive, so that a thousand small DAGs and one large
// one share the network the same way: by blocks in flight, not by fetches.
// A fetch that has blocks in flight takes only while more than a reserve
// is free; the reserve goes to fetches with nothing in flight, so a few
// large DAGs cannot keep a small one from starting.
type Budget struct {
	mu   sync.Mutex
	free int
	more chan struct{} // closed and replaced whenever blocks are given back
}

// NewBudget returns a budget of n blocks in flight.
func NewBudget(n int) *Budget {
	return &Budget{free: n, more: make(chan struct{})}
}

// take takes up to n blocks without waiting, but leaves keep of them
// free.
func (b *Budget) take(n, keep int) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n = max(min(n, b.free-keep), 0)
	b.free -= n
	return n
}

// wait takes between 1 and n blocks, waiting until some are free.
func (b *Budget) wait(ctx context.Context, n int) (int, error) {
	for {
		b.mu.Lock()
		if got := min(n, b.free); got > 0 {
			b.free -= got
			b.mu.Unlock()
			return got, nil
		}
		more := b.more
		b.mu.Unlock()
		select {
		case <-more:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// give returns n blocks.
func (b *Budget) give(n int) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	b.free += n
	close(b.more)
	b.more = make(chan struct{})
	b.mu.Unlock()
}

// available returns how many blocks are free.
func (b *Budget) available() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.free
}
