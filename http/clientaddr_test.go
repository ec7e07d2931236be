package http_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	tackhttp "github.com/tack-ipfs/tack/http"
)

func TestParseTrustedProxies(t *testing.T) {
	got, err := tackhttp.ParseTrustedProxies(" 127.0.0.1/32, 10.1.2.3/8,::1, 192.0.2.7,::ffff:198.51.100.0/120,")
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{
		netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128"),
		netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("198.51.100.0/24"),
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("got %v, want %v", got, want)
		}
	}
	for _, none := range []string{"", " ", "none", "NONE"} {
		if got, err := tackhttp.ParseTrustedProxies(none); err != nil || got != nil {
			t.Errorf("ParseTrustedProxies(%q) = %v, %v; want none", none, got, err)
		}
	}
	for _, bad := range []string{"localhost", "10.0.0.0/33", "10.0.0.0/8/8", "fe80::1%eth0", "127.0.0.1:80"} {
		if _, err := tackhttp.ParseTrustedProxies(bad); err == nil || !strings.Contains(err.Error(), "CIDR prefix") {
			t.Errorf("ParseTrustedProxies(%q) = %v, want an error that shows the syntax", bad, err)
		}
	}
}

// TestClientAddr: X-Forwarded-For counts only from a trusted proxy, and
// then only its right-most entry that is not a trusted proxy itself.
func TestClientAddr(t *testing.T) {
	proxies, err := tackhttp.ParseTrustedProxies("127.0.0.1/32,10.0.0.0/8,2001:db8:ffff::/48")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		trusted bool // TrustedProxies set, else none
		peer    string
		xff     []string
		want    string
	}{
		{"no proxies, loopback peer", false, "127.0.0.1:4711", []string{"203.0.113.9"}, "127.0.0.1"},
		{"no proxies, other peer", false, "192.0.2.1:4711", []string{"203.0.113.9"}, "192.0.2.1"},
		{"trusted peer", true, "127.0.0.1:4711", []string{"203.0.113.9"}, "203.0.113.9"},
		{"trusted peer, no header", true, "127.0.0.1:4711", nil, "127.0.0.1"},
		{"untrusted peer", true, "192.0.2.1:4711", []string{"203.0.113.9"}, "192.0.2.1"},
		{"made-up entries left of the proxy's", true, "127.0.0.1:4711", []string{"1.2.3.4, 5.6.7.8,203.0.113.9"}, "203.0.113.9"},
		{"a chain of trusted proxies", true, "127.0.0.1:4711", []string{"1.2.3.4, 198.51.100.7, 10.0.0.5"}, "198.51.100.7"},
		{"several header lines", true, "127.0.0.1:4711", []string{"1.2.3.4, 198.51.100.7", "10.0.0.5, 10.0.0.6"}, "198.51.100.7"},
		{"every entry a proxy", true, "127.0.0.1:4711", []string{"10.0.0.1, 10.0.0.2"}, "10.0.0.1"},
		{"garbage left of the client", true, "127.0.0.1:4711", []string{"x, 203.0.113.9"}, "203.0.113.9"},
		{"garbage from the proxy", true, "127.0.0.1:4711", []string{"203.0.113.9, unknown"}, "127.0.0.1"},
		{"garbage behind a proxy", true, "127.0.0.1:4711", []string{"203.0.113.9, unknown, 10.0.0.5"}, "10.0.0.5"},
		{"entries with ports", true, "127.0.0.1:4711", []string{"[2001:db8::1]:443, 10.0.0.5:80"}, "2001:db8::1"},
		{"IPv6 proxy", true, "[2001:db8:ffff::1]:4711", []string{"2001:db8:1::1"}, "2001:db8:1::1"},
		{"IPv4-mapped peer", true, "[::ffff:127.0.0.1]:4711", []string{"::ffff:203.0.113.9"}, "203.0.113.9"},
		{"zone", true, "127.0.0.1:4711", []string{"fe80::1%eth0"}, "fe80::1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			web := &tackhttp.Web{}
			if tc.trusted {
				web.TrustedProxies = proxies
			}
			r := httptest.NewRequest("GET", "/signin", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := tackhttp.ClientAddr(web, r); got != tc.want {
				t.Errorf("client %q, want %q", got, tc.want)
			}
		})
	}
}

// signInFrom sends a wrong sign-in for email through a proxy that says it
// comes from xff.
func (b *browser) signInFrom(tb testing.TB, xff, email, password string) page {
	tb.Helper()
	req, err := http.NewRequest("POST", b.e.url+"/signin", strings.NewReader(url.Values{"csrf": {b.csrf}, "email": {email}, "password": {password}}.Encode()))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	return b.send(tb, req)
}

// TestWebForwardedFor: the sign-in limit per address (30 at once) sees
// X-Forwarded-For only from a trusted proxy: by default, even from
// loopback, every request is the peer's.
func TestWebForwardedFor(t *testing.T) {
	t.Run("ignored by default", func(t *testing.T) {
		e := newWebEnv(t, nil)
		b := e.browser(t)
		b.get(t, "/signin")
		for i := range 30 {
			MustSee(t, "wrong password", b.signInFrom(t, "203.0.113."+itoa(int64(i)), "nobody"+itoa(int64(i))+"@example.com", "guess"), http.StatusUnauthorized)
		}
		MustSee(t, "from yet another made-up address", b.signInFrom(t, "198.51.100.1", "somebody@example.com", "guess"), http.StatusTooManyRequests, "Too many sign-in attempts.")
	})
	t.Run("from a trusted proxy", func(t *testing.T) {
		e := newWebEnv(t, func(w *tackhttp.Web) { w.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
		b := e.browser(t)
		b.get(t, "/signin")
		for i := range 40 {
			MustSee(t, "wrong password", b.signInFrom(t, "203.0.113."+itoa(int64(i)), "nobody"+itoa(int64(i))+"@example.com", "guess"), http.StatusUnauthorized)
		}
		// A browser that makes up entries left of the proxy's is still
		// the one address.
		for i := range 30 {
			MustSee(t, "wrong password", b.signInFrom(t, "192.0.2."+itoa(int64(i))+", 198.51.100.1", "someone"+itoa(int64(i))+"@example.com", "guess"), http.StatusUnauthorized)
		}
		MustSee(t, "made-up entries", b.signInFrom(t, "192.0.2.99, 198.51.100.1", "someone@example.com", "guess"), http.StatusTooManyRequests)
	})
}

// TestClientKey: the rate limits count an IPv4 client by its address and
// an IPv6 client by its /64, which one subscriber usually gets whole.
func TestClientKey(t *testing.T) {
	for _, tc := range []struct{ peer, want string }{
		{"203.0.113.9:4711", "203.0.113.9"},
		{"[::ffff:203.0.113.9]:4711", "203.0.113.9"},
		{"[2001:db8:1:2::1]:4711", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff:ffff:ffff:ffff]:4711", "2001:db8:1:2::/64"},
		{"[2001:db8:1:3::1]:4711", "2001:db8:1:3::/64"},
		{"[fe80::1%eth0]:4711", "fe80::/64"},
		{"pipe", "pipe"},
	} {
		r := httptest.NewRequest("GET", "/signin", nil)
		r.RemoteAddr = tc.peer
		if got := tackhttp.ClientKey(&tackhttp.Web{}, r); got != tc.want {
			t.Errorf("peer %s: key %q, want %q", tc.peer, got, tc.want)
		}
	}
}

// TestWebSignInIPv6 counts sign-ins from one IPv6 /64 together: 100
// addresses in it get 30 tries between them, like one IPv4 address. An
// IPv4-mapped address is its IPv4 address.
func TestWebSignInIPv6(t *testing.T) {
	e := newWebEnv(t, func(w *tackhttp.Web) { w.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
	b := e.browser(t)
	b.get(t, "/signin")
	statuses := map[int]int{}
	for i := range 100 {
		p := b.signInFrom(t, fmt.Sprintf("2001:db8:1:2:%x::%x", i, i+1), "nobody"+itoa(int64(i))+"@example.com", "guess")
		statuses[p.status]++
	}
	if statuses[http.StatusUnauthorized] != 30 || statuses[http.StatusTooManyRequests] != 70 {
		t.Errorf("100 sign-ins from one /64: statuses %v, want 30 401 and 70 429", statuses)
	}
	MustSee(t, "from the next /64", b.signInFrom(t, "2001:db8:1:3::1", "somebody@example.com", "guess"), http.StatusUnauthorized)

	for i := range 30 {
		xff := "198.51.100.7"
		if i%2 == 1 {
			xff = "::ffff:198.51.100.7"
		}
		MustSee(t, "IPv4 and IPv4-mapped", b.signInFrom(t, xff, "someone"+itoa(int64(i))+"@example.com", "guess"), http.StatusUnauthorized)
	}
	MustSee(t, "IPv4-mapped, past the limit", b.signInFrom(t, "::ffff:198.51.100.7", "someone@example.com", "guess"), http.StatusTooManyRequests)
}
