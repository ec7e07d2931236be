package pinner

import (
	"testing"
	"time"
)

func TestQueue(t *testing.T) {
	q := newQueue[int]()
	// put never waits, whatever is queued.
	for i := range 10_000 {
		q.put(i)
	}
	if n := q.len(); n != 10_000 {
		t.Fatalf("len %d, want 10000", n)
	}
	select {
	case <-q.ready:
	default:
		t.Fatal("ready holds no token after a put")
	}
	q.put(10_000) // the token was taken: put gives one again
	for i := range 5_000 {
		if v, ok := q.pop(); !ok || v != i {
			t.Fatalf("pop %d: %d %v", i, v, ok)
		}
	}
	got := q.take(nil)
	if len(got) != 5_001 || got[0] != 5_000 || got[len(got)-1] != 10_000 {
		t.Fatalf("take: %d items, from %d to %d", len(got), got[0], got[len(got)-1])
	}
	select {
	case <-q.ready:
		t.Fatal("ready holds a token after take emptied the queue")
	default:
	}
	if n := q.len(); n != 0 {
		t.Fatalf("len %d after take, want 0", n)
	}

	// A pop waits for a put, and close wakes the ones still waiting,
	// after what was queued is taken.
	popped := make(chan int)
	for range 3 {
		go func() {
			for {
				v, ok := q.pop()
				if !ok {
					popped <- -1
					return
				}
				popped <- v
			}
		}()
	}
	select {
	case v := <-popped:
		t.Fatalf("pop returned %d from an empty queue", v)
	case <-time.After(20 * time.Millisecond):
	}
	q.put(7)
	if v := <-popped; v != 7 {
		t.Fatalf("pop returned %d, want 7", v)
	}
	q.put(8)
	q.close()
	seen8, ended := false, 0
	for ended < 3 {
		switch v := <-popped; v {
		case 8:
			seen8 = true
		case -1:
			ended++
		default:
			t.Fatalf("pop returned %d", v)
		}
	}
	if !seen8 {
		t.Fatal("close lost the item queued before it")
	}
}
