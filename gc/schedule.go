package gc

import (
	"context"
	"time"
)

// Schedule runs collections on its own: Delay after garbage was made
// (Dirty: a pin deleted or replaced, an upload refused), so that freed
// blocks stop being served within a bounded time, and every Idle in any
// case. Deletions during the delay join one collection. However often
// garbage is made, a collection never starts sooner after the last one
// ended than Spacing times as long as that one took, so collections of a
// large store take at most 1/(Spacing+1) of the time.
type Schedule struct {
	Delay   time.Duration
	Idle    time.Duration
	Spacing int
	// Collect runs one collection; after an error (another node was
	// collecting, say), the next one starts a Delay later.
	Collect func(ctx context.Context) error

	// Now and After are the clock, time.Now and time.After if nil.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time

	dirty chan struct{}
}

// NewSchedule returns a Schedule; set its clock before Run if need be.
func NewSchedule(delay, idle time.Duration, spacing int, collect func(ctx context.Context) error) *Schedule {
	return &Schedule{Delay: delay, Idle: idle, Spacing: spacing, Collect: collect, dirty: make(chan struct{}, 1)}
}

// Dirty says that garbage was made. It never blocks.
func (s *Schedule) Dirty() {
	select {
	case s.dirty <- struct{}{}:
	default:
	}
}

// Next returns when the next collection starts: Delay after dirtyAt if
// garbage was made (dirtyAt not zero), else Idle after the last one
// ended, and in either case not before Spacing times the last one's
// duration has passed since it ended.
func (s *Schedule) Next(dirtyAt, lastEnd time.Time, lastTook time.Duration) time.Time {
	at := lastEnd.Add(s.Idle)
	if !dirtyAt.IsZero() {
		at = dirtyAt.Add(s.Delay)
	}
	if earliest := lastEnd.Add(time.Duration(s.Spacing) * lastTook); at.Before(earliest) {
		at = earliest
	}
	return at
}

// Run collects as Next says until ctx ends. The first collection without
// garbage waits Idle from the start.
func (s *Schedule) Run(ctx context.Context) {
	now, after := s.Now, s.After
	if now == nil {
		now = time.Now
	}
	if after == nil {
		after = time.After
	}
	var (
		dirtyAt  time.Time
		lastEnd  = now()
		lastTook time.Duration
	)
	for {
		wait := s.Next(dirtyAt, lastEnd, lastTook).Sub(now())
		select {
		case <-ctx.Done():
			return
		case <-s.dirty:
			if dirtyAt.IsZero() {
				dirtyAt = now()
			}
			continue
		case <-after(max(wait, 0)):
		}
		start := now()
		err := s.Collect(ctx)
		lastEnd = now()
		lastTook = lastEnd.Sub(start)
		switch {
		case err == nil:
			dirtyAt = time.Time{}
		case ctx.Err() != nil:
			return
		default:
			dirtyAt = lastEnd // try again a Delay later
		}
	}
}
