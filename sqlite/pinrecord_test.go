package sqlite

import (
	"math"
	"strconv"
	"testing"
)

// FuzzParseInt: parseInt reads every integer SQLite writes as
// strconv.FormatInt does, and accepts nothing that strconv.ParseInt reads
// differently or refuses.
//
//	go test ./sqlite -run '^$' -fuzz FuzzParseInt -fuzztime 30s
func FuzzParseInt(f *testing.F) {
	for _, s := range []string{"0", "-0", "7", "-7", "120", "1700000000000000", "9223372036854775807",
		"9223372036854775808", "-9223372036854775808", "-9223372036854775809", "99999999999999999999",
		"", "-", "+1", "1_000", "0x10", " 1", "1 ", "01", "１"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseInt(s)
		want, err := strconv.ParseInt(s, 10, 64)
		if ok && (err != nil || got != want) {
			t.Errorf("parseInt(%q) = %d; strconv.ParseInt: %d, %v", s, got, want, err)
		}
		if !ok && err == nil && s == strconv.FormatInt(want, 10) {
			t.Errorf("parseInt(%q) refused it", s)
		}
	})
}

func TestParseIntLimits(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 255, 256, math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1} {
		if got, ok := parseInt(strconv.FormatInt(v, 10)); !ok || got != v {
			t.Errorf("parseInt(%d) = %d, %v", v, got, ok)
		}
	}
}
