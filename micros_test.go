package tack

import (
	"testing"
	"time"
)

func TestCeilMicros(t *testing.T) {
	for _, c := range []struct {
		t    time.Time
		want int64
	}{
		{time.UnixMicro(1), 1},
		{time.Unix(0, 1500), 2},
		{time.Unix(0, 1001), 2},
		{time.Unix(0, 999), 1},
	} {
		if got := CeilMicros(c.t); got != c.want {
			t.Errorf("CeilMicros(%v) = %d, want %d", c.t, got, c.want)
		}
	}
}
