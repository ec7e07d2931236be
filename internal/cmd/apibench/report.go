package main

import (
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report prints the results as a table, the latencies also as ratios to
// the first floor scenario's, then each scenario's notes and errors and
// the CPU profile.
func Report(w io.Writer, c Config, seed *Seed, srv *Server, results []*Result) {
	small := 0
	for _, a := range seed.Small {
		small += a.Pins
	}
	fmt.Fprintf(w, "\nstore: %d pin requests, all queued: %d in the big account, %d in %d small accounts (%d each on average)\n",
		seed.N, seed.Big.Pins, small, len(seed.Small), small/max(1, len(seed.Small)))
	fmt.Fprintf(w, "each scenario %s; %d CPUs (%s), shared with the load generator; server: %s %s\n\n",
		c.Duration, runtime.NumCPU(), runtime.GOARCH, srv.Bin, strings.Join(srv.Args, " "))

	var floor *Result
	for _, r := range results {
		if r.Name == "floor" {
			floor = r
			break
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\trate asked\trate got\tok %\tp50\tp90\tp99\tmax\tp50/floor\tp99/floor\t2xx p99\tpeak RSS\tmax fds\tload\tstatus codes\t")
	for _, r := range results {
		m := r.Metrics
		l := m.Latencies
		ratio := func(d, base time.Duration) string {
			if base == 0 {
				return "-"
			}
			return fmt.Sprintf("%.1f×", float64(d)/float64(base))
		}
		okP99 := "-"
		if r.OK.Requests > 0 {
			okP99 = ms(r.OK.Latencies.P99)
		}
		fmt.Fprintf(tw, "%s\t%d/s\t%.0f/s\t%.1f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d MiB\t%d\t%.1f\t%s\t\n",
			r.Name, r.Rate, m.Rate, 100*m.Success, ms(l.P50), ms(l.P90), ms(l.P99), ms(l.Max),
			ratio(l.P50, floorOf(floor).P50), ratio(l.P99, floorOf(floor).P99), okP99,
			r.PeakRSS>>20, r.MaxFDs, r.Load, codes(m.StatusCodes))
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, r := range results {
		fmt.Fprintf(w, "%s: %s", r.Name, r.What)
		if r.Note != "" {
			fmt.Fprintf(w, "; %s", r.Note)
		}
		fmt.Fprintln(w)
		for i, e := range r.Metrics.Errors {
			if i == 3 {
				fmt.Fprintf(w, "  … %d more kinds of error\n", len(r.Metrics.Errors)-3)
				break
			}
			fmt.Fprintf(w, "  error: %s\n", e)
		}
	}
	for _, r := range results {
		if r.Profile != "" {
			fmt.Fprintf(w, "\nCPU profile of the server under %s:\n%s", r.Name, r.Profile)
		}
	}
}

type latencies struct{ P50, P99 time.Duration }

func floorOf(r *Result) latencies {
	if r == nil {
		return latencies{}
	}
	return latencies{r.Metrics.Latencies.P50, r.Metrics.Latencies.P99}
}

// ms formats a latency in milliseconds.
func ms(d time.Duration) string {
	switch {
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

// codes formats a status code histogram, most frequent first.
func codes(m map[string]int) string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int { return m[b] - m[a] })
	var parts []string
	for _, k := range keys {
		if k == "0" {
			parts = append(parts, fmt.Sprintf("no answer:%d", m[k]))
		} else {
			parts = append(parts, fmt.Sprintf("%s:%d", k, m[k]))
		}
	}
	return strings.Join(parts, " ")
}
