package http

import "time"

// ProvideStatus is what the operator's page shows of providing on the
// DHT: how many records the node keeps announced and how its reprovide
// cycles go. cmd/tack fills it from the node.
type ProvideStatus struct {
	Enabled      bool          // false when the DHT is off
	Strategy     string        // all or roots
	Interval     time.Duration // the reprovide interval
	Connectivity string        // online, disconnected or offline
	Keys         int64         // keys kept provided: one provider record each
	Provided     int64         // keys announced since start, reprovides included
	Failed       int64         // announces that failed since start
	Pending      int64         // keys waiting for their first announce
	Synced       time.Time     // when the keys to provide were last listed; zero: not yet
	// The last reprovide cycle that ended; LastEnd zero: none yet.
	LastStart, LastEnd time.Time
	LastProvided       int64 // keys announced in it
	LastFailed         int64
	LastLate           int64 // keyspace regions still waiting when it ended
}

// LastTook is how long the last cycle ran, as this process saw it.
func (s ProvideStatus) LastTook() string {
	return formatDuration(s.LastEnd.Sub(s.LastStart))
}

// Every is the reprovide interval, written for people.
func (s ProvideStatus) Every() string { return formatDuration(s.Interval) }

// formatDuration writes d rounded to what a person reads: 22h, 3m10s, 4s.
func formatDuration(d time.Duration) string {
	switch {
	case d >= time.Hour:
		d = d.Round(time.Minute)
	case d >= time.Minute:
		d = d.Round(time.Second)
	case d >= time.Second:
		d = d.Round(100 * time.Millisecond)
	}
	s := d.String()
	for _, suffix := range []string{"m0s", "h0m"} {
		if len(s) > len(suffix) && s[len(s)-len(suffix):] == suffix {
			s = s[:len(s)-len(suffix)+1]
		}
	}
	return s
}

// provideStatus returns the status for the page, nil if there is none.
func (web *Web) provideStatus() *ProvideStatus {
	if web.Providing == nil {
		return nil
	}
	s := web.Providing()
	return &s
}
