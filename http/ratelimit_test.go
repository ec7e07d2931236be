package http_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	tackhttp "github.com/tack-ipfs/tack/http"
	"golang.org/x/time/rate"
)

func TestParseRateLimit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want tackhttp.RateLimit
		text string // String() of the result
	}{
		{"50,200", tackhttp.RateLimit{Rate: 50, Burst: 200}, "50,200"},
		{"500/s,2000", tackhttp.RateLimit{Rate: 500, Burst: 2000}, "500,2000"},
		{" 20 /s , 5 ", tackhttp.RateLimit{Rate: 20, Burst: 5}, "20,5"},
		{"100", tackhttp.RateLimit{Rate: 100, Burst: 400}, "100,400"},
		{"100/s", tackhttp.RateLimit{Rate: 100, Burst: 400}, "100,400"},
		{"0.5/s", tackhttp.RateLimit{Rate: 0.5, Burst: 2}, "0.5,2"},
		{"0.1", tackhttp.RateLimit{Rate: 0.1, Burst: 1}, "0.1,1"},
		{"off", tackhttp.RateLimit{Rate: rate.Inf}, "off"},
		{"OFF", tackhttp.RateLimit{Rate: rate.Inf}, "off"},
		{"0", tackhttp.RateLimit{Rate: rate.Inf}, "off"},
		{"0/s", tackhttp.RateLimit{Rate: rate.Inf}, "off"},
	} {
		got, err := tackhttp.ParseRateLimit(tc.in)
		if err != nil {
			t.Errorf("ParseRateLimit(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseRateLimit(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		if s := got.String(); s != tc.text {
			t.Errorf("ParseRateLimit(%q).String() = %q, want %q", tc.in, s, tc.text)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"", "the rate must be"},
		{"fast", "the rate must be"},
		{"-5", "the rate must be"},
		{"0,10", "the rate must be"},
		{"NaN", "the rate must be"},
		{"Inf", "the rate must be"},
		{"50/m", "the rate must be"},
		{"50,", "the burst must be"},
		{"50,0", "the burst must be"},
		{"50,1.5", "the burst must be"},
		{"50,200,3", "the burst must be"},
	} {
		_, err := tackhttp.ParseRateLimit(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "RATE[/s][,BURST]") {
			t.Errorf("ParseRateLimit(%q) = %v, want an error with %q and the syntax", tc.in, err, tc.want)
		}
	}
	// The zero value formats as the defaults it applies.
	if s := (tackhttp.RateLimit{}).String(); s != "50,200" {
		t.Errorf("zero RateLimit: %q, want 50,200", s)
	}
}

// A spray of sign-in attempts from many IPv6 /64s, one each, keeps the
// table of buckets at its bound, and an attacker among them who tries
// again and again from one /64 is still held to its bucket.
func TestSignInLimitsUnderSpray(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	web := &tackhttp.Web{Now: func() time.Time { return now }}
	attempt := func(addr string) error {
		r := httptest.NewRequest("POST", "/signin", nil)
		r.RemoteAddr = "[" + addr + "]:4242"
		return tackhttp.AllowSignIn(web, httptest.NewRecorder(), r, "")
	}
	allowed := 0
	for i := range 3 * tackhttp.MaxLimiters {
		if err := attempt(fmt.Sprintf("2001:db8:%x:%x::1", i>>16, i&0xffff)); err != nil {
			t.Fatalf("the first attempt of /64 #%d: %v", i, err)
		}
		if i%10 == 0 && attempt(fmt.Sprintf("2001:db8:ffff:ffff::%x", i)) == nil {
			allowed++
		}
		if n := tackhttp.SignInBuckets(web); n > tackhttp.MaxLimiters {
			t.Fatalf("%d buckets after %d /64s, over the bound of %d", n, i+1, tackhttp.MaxLimiters)
		}
	}
	// 30 at once from an address (three times 10), and the clock stands
	// still.
	if allowed != 30 {
		t.Errorf("the attacker's /64 got %d attempts, want 30", allowed)
	}
}
