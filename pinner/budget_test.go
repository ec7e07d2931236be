package pinner

import (
	"context"
	"testing"
)

func TestBudget(t *testing.T) {
	b := NewBudget(100)
	if got := b.take(80, 0); got != 80 {
		t.Fatalf("take(80) = %d", got)
	}
	// A walk with blocks in flight leaves the reserve alone.
	if got := b.take(50, 64); got != 0 {
		t.Errorf("take past the reserve = %d, want 0", got)
	}
	// A walk with nothing in flight may take it.
	got, err := b.wait(context.Background(), 50)
	if err != nil || got != 20 {
		t.Errorf("wait(50) = %d, %v; want the 20 left", got, err)
	}
	// An empty budget makes wait wait until blocks come back.
	done := make(chan int)
	go func() {
		n, _ := b.wait(context.Background(), 5)
		done <- n
	}()
	b.give(3)
	if n := <-done; n != 3 {
		t.Errorf("wait after give(3) = %d, want 3", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.wait(ctx, 1); err == nil {
		t.Error("wait on an empty budget with a cancelled context returned no error")
	}
	b.give(100)
	if b.available() != 100 {
		t.Errorf("Free = %d after every block came back, want 100", b.available())
	}
}
