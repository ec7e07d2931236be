package tack_test

import (
	"testing"

	"github.com/tack-ipfs/tack"
)

func TestParseSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1048576", 1 << 20, true},
		{"500GB", 500e9, true},
		{"2TiB", 2 << 40, true},
		{" 3 kib ", 3 << 10, true},
		{"7B", 7, true},
		{"", 0, false},
		{"GB", 0, false},
		{"-1", 0, false},
		{"1.5GB", 0, false},
		{"9999999PiB", 0, false},
		{"10 apples", 0, false},
	} {
		got, err := tack.ParseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB",
		12 << 20: "12.0 MiB", 3 << 29: "1.5 GiB", 1 << 60: "1.0 EiB",
	} {
		if got := tack.FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}
