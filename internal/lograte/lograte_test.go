package lograte_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tack-ipfs/tack/internal/lograte"
)

// syncBuffer is a bytes.Buffer safe for the summary's timer goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSpace(s.b.String()), "\n")
}

func TestHandlerLimitsEachKind(t *testing.T) {
	var out syncBuffer
	const interval = 300 * time.Millisecond
	log := slog.New(lograte.New(slog.NewTextHandler(&out, nil), 3, interval)).With("part", "disk")
	start := time.Now()
	for i := range 1000 {
		log.Error("no space left", "n", i)
		if i%100 == 0 {
			log.Info("another kind")
		}
	}
	if time.Since(start) >= interval {
		t.Skip("the machine was too slow to log 1,000 lines in one interval")
	}
	got := out.lines()
	if len(got) != 6 {
		t.Fatalf("got %d lines within the interval, want 3 of each kind:\n%s", len(got), strings.Join(got, "\n"))
	}
	// When the interval ends, one line says how many were dropped, with
	// the attributes of the last one.
	deadline := time.Now().Add(5 * time.Second)
	for len(out.lines()) < 8 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	got = out.lines()
	var summaries []string
	for _, l := range got {
		if strings.Contains(l, "suppressed") {
			summaries = append(summaries, l)
		}
	}
	if len(summaries) != 2 {
		t.Fatalf("got %d summaries, want one for each kind:\n%s", len(summaries), strings.Join(got, "\n"))
	}
	for _, want := range []string{`msg="suppressed 997 lines like: no space left"`, "part=disk", "n=999", "suppressed=997"} {
		if !strings.Contains(strings.Join(summaries, "\n"), want) {
			t.Errorf("summaries lack %q:\n%s", want, strings.Join(summaries, "\n"))
		}
	}
	// A new interval lets the kind through again.
	log.Error("no space left", "n", 1000)
	if last := out.lines()[len(out.lines())-1]; !strings.Contains(last, "n=1000") {
		t.Errorf("after the interval, got %q, want the line through", last)
	}
}
