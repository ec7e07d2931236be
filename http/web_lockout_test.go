package http_test

import (
	"net/http"
	"net/netip"
	"net/url"
	"testing"
	"time"

	tackhttp "github.com/tack-ipfs/tack/http"
)

// behindProxy trusts the test's loopback peer as a reverse proxy, so that
// each request may say which address it comes from.
func behindProxy(w *tackhttp.Web) {
	w.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
}

// TestWebSignInLockout: wrong passwords for alice from many addresses do
// not lock her out. Her own browser, which signed in before, still signs
// in; a new browser is limited per (email, address), and past the slower
// limit per email only browsers she signed in with get through.
func TestWebSignInLockout(t *testing.T) {
	e := newWebEnv(t, behindProxy)
	const home = "198.51.100.1"
	alice := e.MustSignUp(t, "alice@example.com")
	alice.get(t, "/tokens")
	MustRedirect(t, "alice signs out", alice.post(t, "/signout", nil), "/signin")
	alice.get(t, "/signin")
	attacker := e.browser(t)
	attacker.get(t, "/signin")
	attempt := 0
	attack := func() page {
		attempt++
		return attacker.signInFrom(t, "198.18."+itoa(int64(attempt/256))+"."+itoa(int64(attempt%256)), "alice@example.com", "guess")
	}
	for range 12 {
		MustSee(t, "a guess from another address", attack(), http.StatusUnauthorized, "Wrong email or password.")
	}
	MustRedirect(t, "alice, from her browser and her address", alice.signInFrom(t, home, "alice@example.com", "correct horse"), "/dashboard")
	laptop := e.browser(t)
	laptop.get(t, "/signin")
	p := laptop.signInFrom(t, home, "alice@example.com", "correct horse")
	MustRedirect(t, "alice, from a new browser", p, "/dashboard")
	var device *http.Cookie
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		if c.Name == "tack_device" {
			device = c
		}
	}
	if device == nil || !device.HttpOnly || device.SameSite != http.SameSiteLaxMode || device.Expires.Before(e.clock().Add(300*24*time.Hour)) {
		t.Fatalf("device cookie %+v: want HttpOnly, SameSite=Lax, for a year", device)
	}

	// A new browser gets 10 tries per address, then 429 even with the
	// right password; at another address it has 10 more.
	cafe := e.browser(t)
	cafe.get(t, "/signin")
	for range 10 {
		MustSee(t, "a typo at the café", cafe.signInFrom(t, "198.51.100.99", "alice@example.com", "wrong"), http.StatusUnauthorized)
	}
	MustSee(t, "the café's address, past its limit", cafe.signInFrom(t, "198.51.100.99", "alice@example.com", "correct horse"), http.StatusTooManyRequests, "Too many sign-in attempts.")
	MustRedirect(t, "the same browser at home", cafe.signInFrom(t, home, "alice@example.com", "correct horse"), "/dashboard")

	// Guesses from ever more addresses meet the limit per email at last…
	for range 200 {
		if p = attack(); p.status != http.StatusUnauthorized {
			break
		}
	}
	MustSee(t, "guessing from ever more addresses", p, http.StatusTooManyRequests, "Too many sign-in attempts.")
	if p.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	fresh := e.browser(t)
	fresh.get(t, "/signin")
	MustSee(t, "a new browser at a new address, past the limit per email", fresh.signInFrom(t, "198.51.100.201", "alice@example.com", "correct horse"), http.StatusTooManyRequests)
	// … which alice's browsers pass, from anywhere.
	alice.get(t, "/signin")
	laptop.get(t, "/signin")
	MustRedirect(t, "alice's browser", alice.signInFrom(t, home, "alice@example.com", "correct horse"), "/dashboard")
	MustRedirect(t, "alice's laptop, elsewhere", laptop.signInFrom(t, "198.51.100.202", "alice@example.com", "correct horse"), "/dashboard")

	// A browser's own tries are limited too: 10 at once.
	alice.get(t, "/signin")
	statuses := map[int]int{}
	for range 12 {
		statuses[alice.signInFrom(t, home, "alice@example.com", "wrong").status]++
	}
	if statuses[http.StatusTooManyRequests] == 0 || statuses[http.StatusUnauthorized] > 10 {
		t.Errorf("12 wrong passwords from alice's browser: statuses %v, want 429 after at most 10", statuses)
	}

	// The browser's mark is bound to the account and to its password: it
	// does not carry over to bob, and a password change ends it on every
	// browser but the one that changed it.
	bob := e.MustSignUp(t, "bob@example.com")
	bob.get(t, "/signin")
	MustSee(t, "bob's browser signing in as alice", bob.signInFrom(t, "198.51.100.203", "alice@example.com", "correct horse"), http.StatusTooManyRequests)
	laptop.get(t, "/tokens")
	MustRedirect(t, "change the password on the laptop", laptop.post(t, "/password", url.Values{"current": {"correct horse"}, "password": {"staple battery"}}), "/tokens?notice=password-changed")
	laptop.get(t, "/signin")
	MustRedirect(t, "the laptop, after the change", laptop.signInFrom(t, "198.51.100.204", "alice@example.com", "staple battery"), "/dashboard")
	cafe.get(t, "/signin")
	MustSee(t, "the café browser, after the change", cafe.signInFrom(t, "198.51.100.205", "alice@example.com", "staple battery"), http.StatusTooManyRequests)
}
