package http

import (
	"time"

	"github.com/tack-ipfs/tack/node"
)

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

// provideStatus returns the node's state of providing on the DHT for the
// operator's page, nil if there is none.
func (web *Web) provideStatus() *node.ProvideStats {
	if web.Providing == nil {
		return nil
	}
	s := web.Providing()
	return &s
}
