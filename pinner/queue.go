package pinner

import "sync"

// queue is a FIFO whose put never waits, for the hand-offs between a
// walk's loop and the goroutines beside it (lookers, and the forwarders of
// what bitswap delivers), where a wait could close a cycle. A buffered
// channel would serve as well only with room for the most a walk may
// ever queue, its whole window, allocated at the start of every walk: for
// DAGs of one small block, pinned by the thousand a second, that was a
// third of the server's allocations. A queue's buffer grows with what is
// queued instead.
//
// Its consumer either waits in pop, or selects on ready and then takes
// whatever is queued.
type queue[T any] struct {
	mu     sync.Mutex
	cond   sync.Cond // signalled on put and close, for pop
	items  []T
	head   int // items[head:] are queued
	closed bool
	// ready holds a token once something is put, for a consumer that
	// selects rather than waits in pop; take clears it.
	ready chan struct{}
}

func newQueue[T any]() *queue[T] {
	q := &queue[T]{ready: make(chan struct{}, 1)}
	q.cond.L = &q.mu
	return q
}

// put queues v. It never waits.
func (q *queue[T]) put(v T) {
	q.mu.Lock()
	q.items = append(q.items, v)
	q.mu.Unlock()
	q.cond.Signal()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// pop waits until something is queued and returns the oldest item, or
// returns false once the queue is closed and empty.
func (q *queue[T]) pop() (T, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.head == len(q.items) && !q.closed {
		q.cond.Wait()
	}
	var v, zero T
	if q.head == len(q.items) {
		return v, false
	}
	v = q.items[q.head]
	q.items[q.head] = zero // let the item go
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	}
	return v, true
}

// take appends everything queued to buf, oldest first, and returns it.
func (q *queue[T]) take(buf []T) []T {
	select {
	case <-q.ready:
	default:
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	buf = append(buf, q.items[q.head:]...)
	clear(q.items[q.head:])
	q.items, q.head = q.items[:0], 0
	return buf
}

// len returns how many items are queued.
func (q *queue[T]) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}

// close wakes every pop: once the queue is empty, each returns false.
func (q *queue[T]) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}
