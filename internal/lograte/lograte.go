// Package lograte limits how many log lines of one kind reach a
// slog.Handler, so that a fault repeated a thousand times a second (a full
// disk, an unreachable store) never floods the log, nor the disk it is
// short of.
//
// A kind is a record's level and message: tack's messages are constants,
// and what varies goes in attributes. Within each interval the first N
// records of a kind pass; the rest are dropped and counted, and when the
// interval ends one record, "suppressed K lines like: MESSAGE", says how
// many were dropped, with the attributes of the last one.
package lograte

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Defaults for New: ten lines of a kind a minute, then one summary.
const (
	DefaultLines    = 10
	DefaultInterval = time.Minute
)

// Handler is a slog.Handler that passes at most Lines records of a kind
// per Interval to the handler it wraps.
type Handler struct {
	next  slog.Handler
	limit *limiter // shared by the handlers WithAttrs and WithGroup derive
}

var _ slog.Handler = (*Handler)(nil)

// limiter counts the records of each kind in its current interval.
type limiter struct {
	lines int
	every time.Duration

	mu    sync.Mutex
	kinds map[kind]*window
}

type kind struct {
	level slog.Level
	msg   string
}

// window is one kind's current interval.
type window struct {
	start   time.Time
	passed  int
	dropped int
	// last is the last record dropped and the handler it was meant for,
	// which the summary is written to.
	last    slog.Record
	handler slog.Handler
	timer   *time.Timer
}

// New returns a Handler that passes to next at most lines records of a
// kind every interval (lines < 1: DefaultLines; interval <= 0:
// DefaultInterval).
func New(next slog.Handler, lines int, interval time.Duration) *Handler {
	if lines < 1 {
		lines = DefaultLines
	}
	if interval <= 0 {
		interval = DefaultInterval
	}
	return &Handler{next: next, limit: &limiter{lines: lines, every: interval, kinds: map[kind]*window{}}}
}

// Enabled reports whether the wrapped handler handles records of level.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle passes r on, unless its kind has had its lines in this interval.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if !h.limit.admit(r, h.next) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs returns a Handler whose records carry attrs, counted with h's.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &Handler{next: h.next.WithAttrs(attrs), limit: h.limit}
}

// WithGroup returns a Handler that puts attributes in group name, counted
// with h's.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), limit: h.limit}
}

// admit tells whether r may pass. A record dropped is kept as its kind's
// last, and the first drop of an interval sets a timer that writes the
// summary when the interval ends.
func (l *limiter) admit(r slog.Record, next slog.Handler) bool {
	k := kind{r.Level, r.Message}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.kinds[k]
	if w == nil || now.Sub(w.start) >= l.every {
		if w != nil && w.timer != nil && w.timer.Stop() {
			// The timer did not fire yet: summarize here.
			l.summarize(w)
		}
		w = &window{start: now}
		l.kinds[k] = w
		l.forgetOld(now)
	}
	if w.passed < l.lines {
		w.passed++
		return true
	}
	w.dropped++
	w.last, w.handler = r.Clone(), next
	if w.timer == nil {
		w.timer = time.AfterFunc(w.start.Add(l.every).Sub(now), func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.summarize(w)
		})
	}
	return false
}

// summarize writes one record for the lines of w dropped, and resets the
// count. Called with l.mu held: summaries are written one at a time.
func (l *limiter) summarize(w *window) {
	if w.dropped == 0 {
		return
	}
	msg := fmt.Sprintf("suppressed %d lines like: %s", w.dropped, w.last.Message)
	r := slog.NewRecord(time.Now(), w.last.Level, msg, 0)
	w.last.Attrs(func(a slog.Attr) bool {
		r.AddAttrs(a)
		return true
	})
	r.AddAttrs(slog.Int("suppressed", w.dropped), slog.Duration("interval", l.every))
	w.dropped = 0
	_ = w.handler.Handle(context.Background(), r)
}

// forgetOld drops the windows of kinds not seen for an interval and with
// nothing left to summarize, so that the map holds only recent kinds.
func (l *limiter) forgetOld(now time.Time) {
	if len(l.kinds) < 64 {
		return
	}
	for k, w := range l.kinds {
		if now.Sub(w.start) >= l.every && w.dropped == 0 {
			delete(l.kinds, k)
		}
	}
}
