package gc_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tack-ipfs/tack/gc"
)

func TestScheduleNext(t *testing.T) {
	t.Parallel()
	s := gc.NewSchedule(2*time.Minute, 24*time.Hour, 10, nil)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		dirtyAt  time.Time
		lastEnd  time.Time
		lastTook time.Duration
		want     time.Time
	}{
		{"nothing deleted: a day after the last", time.Time{}, t0, time.Second, t0.Add(24 * time.Hour)},
		{"deleted: the delay after", t0.Add(time.Hour), t0, time.Second, t0.Add(time.Hour + 2*time.Minute)},
		{"deleted right after a long collection: 10 times its length after it", t0.Add(time.Second), t0, time.Minute, t0.Add(10 * time.Minute)},
		{"deleted long after a long collection", t0.Add(time.Hour), t0, time.Minute, t0.Add(time.Hour + 2*time.Minute)},
	} {
		if got := s.Next(tc.dirtyAt, tc.lastEnd, tc.lastTook); !got.Equal(tc.want) {
			t.Errorf("%s: Next = %s, want %s", tc.name, got.Sub(t0), tc.want.Sub(t0))
		}
	}
}

// fakeClock is a clock whose timers fire when the test says.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits chan time.Duration // what Run waits for, in order
	fire  chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.waits <- d
	return c.fire
}

// TestScheduleRun: a deletion brings a collection a Delay later, not a
// day later; after a collection that took 5 minutes the next one waits
// 50 minutes, however soon garbage is made again.
func TestScheduleRun(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), waits: make(chan time.Duration), fire: make(chan time.Time)}
	collected := make(chan struct{})
	s := gc.NewSchedule(2*time.Minute, 24*time.Hour, 10, func(ctx context.Context) error {
		clock.advance(5 * time.Minute) // the collection takes 5 minutes
		collected <- struct{}{}
		return nil
	})
	s.Now, s.After = clock.Now, clock.After
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()

	wait := func(want time.Duration) {
		t.Helper()
		if got := <-clock.waits; got != want {
			t.Fatalf("Run waits %s, want %s", got, want)
		}
	}
	wait(24 * time.Hour) // nothing deleted yet
	s.Dirty()
	wait(2 * time.Minute)
	clock.advance(2 * time.Minute)
	clock.fire <- clock.Now()
	<-collected
	wait(24 * time.Hour)
	s.Dirty()
	wait(50 * time.Minute) // 10 × the 5 minutes the last one took
	clock.advance(50 * time.Minute)
	clock.fire <- clock.Now()
	<-collected
	cancel()
	go func() {
		for range clock.waits {
		}
	}()
	<-done
}

// A deletion brings a collection after a short delay on the real clock.
func TestScheduleDirty(t *testing.T) {
	t.Parallel()
	collected := make(chan struct{}, 1)
	s := gc.NewSchedule(10*time.Millisecond, time.Hour, 10, func(ctx context.Context) error {
		collected <- struct{}{}
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	s.Dirty()
	select {
	case <-collected:
	case <-time.After(time.Minute):
		t.Fatal("no collection after a deletion")
	}
}
