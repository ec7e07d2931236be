package http_test

import (
	"testing"

	tackhttp "github.com/tack-ipfs/tack/http"
)

func TestGroupDigits(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 1000000: "1,000,000", 123456789: "123,456,789", -1234: "-1,234"} {
		if got := tackhttp.GroupDigits(n); got != want {
			t.Errorf("groupDigits(%d) = %q, want %q", n, got, want)
		}
	}
}
