package migrate

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// report prints what a migration does: a line for each item (or, on a
// terminal, only the failures, above a progress bar) and a summary.
type report struct {
	mu    sync.Mutex
	out   io.Writer // item lines and the summary
	bar   io.Writer // the progress bar; nil without a terminal
	quiet bool      // print only failures as lines: out is the terminal the bar is on

	phase    string // what the bar is counting
	done     int
	total    int
	drawn    time.Time
	barShown bool

	// The summary: items by outcome, and the skipped and failed ones by
	// reason.
	counts   [wouldCreate + 1]int
	groups   []*reasonGroup
	byReason map[string]*reasonGroup
}

// newReport prints to stdout, with a progress bar on stderr if it is a
// terminal. On a terminal that stdout shares, only failures get a line.
func newReport(stdout, stderr io.Writer) *report {
	r := &report{out: stdout}
	if isTerminal(stderr) {
		r.bar = stderr
		r.quiet = isTerminal(stdout)
	}
	return r
}

// isTerminal reports whether w is a character device, as a terminal is
// (golang.org/x/term is not among tack's dependencies). /dev/null is one
// too, which only means a bar nobody sees.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// start begins a phase of the bar: total steps of what.
func (r *report) start(phase string, total int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.phase, r.done, r.total = phase, 0, total
	r.draw(true)
}

// item prints the line of an item whose outcome (or status, with Wait)
// is now known, and counts a step. verb is what to say, detail why.
func (r *report) item(it *migrateItem, verb, detail string, isFailure bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done++
	if !r.quiet || isFailure {
		var b strings.Builder
		if it.line > 0 {
			fmt.Fprintf(&b, "line %d: ", it.line)
		}
		fmt.Fprintf(&b, "%s %s", verb, it.text)
		if it.name != "" {
			fmt.Fprintf(&b, " %q", it.name)
		}
		if detail != "" {
			b.WriteString(": " + detail)
		}
		r.println(b.String())
	}
	r.draw(r.done == r.total)
}

// printf prints a line of its own, above the bar.
func (r *report) printf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.println(fmt.Sprintf(format, args...))
}

func (r *report) println(s string) {
	if r.barShown {
		fmt.Fprint(r.bar, "\r\033[K")
		r.barShown = false
	}
	fmt.Fprintln(r.out, s)
	r.draw(true)
}

// draw redraws the bar, at most ten times a second unless forced.
func (r *report) draw(force bool) {
	if r.bar == nil || r.phase == "" || !force && time.Since(r.drawn) < 100*time.Millisecond {
		return
	}
	r.drawn = time.Now()
	r.barShown = true
	if r.total <= 0 { // not known yet
		fmt.Fprintf(r.bar, "\r\033[K%s: %d", r.phase, r.done)
		return
	}
	const width = 30
	filled := width * min(r.done, r.total) / r.total
	fmt.Fprintf(r.bar, "\r\033[K%s [%s%s] %d/%d", r.phase, strings.Repeat("#", filled), strings.Repeat(".", width-filled), r.done, r.total)
}

// clearBar removes the bar before the summary.
func (r *report) clearBar() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.barShown {
		fmt.Fprint(r.bar, "\r\033[K")
		r.barShown = false
	}
	r.phase = ""
}

// count adds an item whose outcome is final to the summary: its outcome
// and, if skipped or failed, its reason, with the first ten items of
// each reason.
func (r *report) count(it *migrateItem) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts[it.outcome]++
	if it.outcome != skipped && it.outcome != failed {
		return
	}
	reason := it.reason
	k := it.outcome.String() + "\x00" + reason
	if r.byReason[k] == nil && len(r.byReason) >= maxReasonGroups {
		// A source can give every item a reason of its own.
		reason = "other reasons, in the lines above"
		k = it.outcome.String() + "\x00" + reason
	}
	g := r.byReason[k]
	if g == nil {
		if r.byReason == nil {
			r.byReason = map[string]*reasonGroup{}
		}
		g = &reasonGroup{o: it.outcome, reason: reason}
		r.byReason[k] = g
		r.groups = append(r.groups, g)
	}
	g.n++
	if len(g.members) < 10 {
		g.members = append(g.members, it.where())
	}
}

// maxReasonGroups is how many reasons the summary groups items by; the
// items of any further reason are grouped as other reasons.
const maxReasonGroups = 50

// failures returns how many items failed, of how many counted.
func (r *report) failures() (n, all int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.counts {
		all += c
	}
	return r.counts[failed], all
}

// reasonGroup is the items skipped or failed for one reason: how many, and
// the first ten.
type reasonGroup struct {
	o       outcome
	reason  string
	n       int
	members []string
}

// summary prints the counts of each outcome and, for skipped and failed
// items, their reasons, grouped, with the lines (or CIDs) of each.
func (r *report) summary(dryRun bool) {
	r.clearBar()
	r.mu.Lock()
	defer r.mu.Unlock()
	count := r.counts
	var b strings.Builder
	if dryRun {
		fmt.Fprintf(&b, "dry run, nothing was created: %d to create, %d skipped, %d failed", count[wouldCreate], count[skipped], count[failed])
	} else {
		fmt.Fprintf(&b, "%d created, %d skipped, %d failed", count[created], count[skipped], count[failed])
	}
	if count[notDone] > 0 {
		fmt.Fprintf(&b, ", %d not done", count[notDone])
	}
	fmt.Fprintln(r.out, b.String())
	// Failures first, the largest groups first within each outcome.
	groups := slices.Clone(r.groups)
	slices.SortStableFunc(groups, func(a, b *reasonGroup) int {
		if a.o != b.o {
			return int(b.o) - int(a.o)
		}
		return b.n - a.n
	})
	for _, g := range groups {
		more := ""
		if g.n > len(g.members) {
			more = fmt.Sprintf(" and %d more", g.n-len(g.members))
		}
		fmt.Fprintf(r.out, "  %s %d: %s (%s%s)\n", g.o, g.n, g.reason, strings.Join(g.members, ", "), more)
	}
}
