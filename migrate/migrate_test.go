package migrate

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tack-ipfs/tack"
	tackhttp "github.com/tack-ipfs/tack/http"
	"github.com/tack-ipfs/tack/internal/testpeer"
)

// A target that answers 429 to most requests still gets every pin, once.
func TestMigrateRateLimited(t *testing.T) {
	dst := newTarget(t, func(s *tackhttp.Server) { s.RateLimit = tackhttp.RateLimit{Rate: 20, Burst: 10} })
	want := map[string]bool{}
	var list strings.Builder
	for range 40 {
		c := testpeer.RandomRawCID(t)
		want[tack.ContentKey(c)] = true
		fmt.Fprintln(&list, c)
	}
	var out strings.Builder
	err := Run(context.Background(), Config{FromFile: "-", Stdin: strings.NewReader(list.String()), To: dst.url, Token: dst.token, Stdout: &out, Stderr: &out})
	t.Logf("migrate:\n%s%v", out.String(), err)
	if err != nil || !strings.Contains(out.String(), "40 created, 0 skipped, 0 failed") {
		t.Errorf("error %v, want none with 40 created", err)
	}
	if !strings.Contains(out.String(), "the target answered 429 or 503") {
		t.Errorf("the target never answered 429: the test proves nothing")
	}
	dst.mustHaveOnce(t, want)
}
