package http_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// signUpFrom signs up with email in a new browser, through a proxy that
// says the browser is at xff.
func (e *webEnv) signUpFrom(tb testing.TB, xff, email string) page {
	tb.Helper()
	b := e.browser(tb)
	b.get(tb, "/signup")
	req, err := http.NewRequest("POST", e.url+"/signup", strings.NewReader(url.Values{"csrf": {b.csrf}, "email": {email}, "password": {"another horse"}}.Encode()))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", xff)
	return b.send(tb, req)
}

// TestWebSignUpLimit: sign-up says whether an email has an account (409),
// so it is limited per address and per email, before the store is asked:
// past a limit, a new email and a taken one get the same 429. The limit
// on an email's sign-ups does not touch its sign-ins.
func TestWebSignUpLimit(t *testing.T) {
	e := newWebEnv(t, behindProxy)
	e.MustSignUp(t, "alice@example.com")

	const addr = "203.0.113.7"
	for i := range 10 {
		if i%2 == 0 {
			MustSee(t, "a taken email", e.signUpFrom(t, addr, "alice@example.com"), http.StatusConflict, "already exists")
		} else {
			MustRedirect(t, "a new email", e.signUpFrom(t, addr, "new"+itoa(int64(i))+"@example.com"), "/tokens")
		}
	}
	for _, email := range []string{"alice@example.com", "new1@example.com", "someone@example.com"} {
		p := e.signUpFrom(t, addr, email)
		MustSee(t, "past the address's limit: "+email, p, http.StatusTooManyRequests, "Too many sign-up attempts.")
		if strings.Contains(p.body, "already exists") || p.header.Get("Retry-After") == "" {
			t.Errorf("429 for %s says whether it exists, or has no Retry-After", email)
		}
	}
	MustRedirect(t, "another address", e.signUpFrom(t, "203.0.113.8", "carol@example.com"), "/tokens")

	// One email, from ever more addresses.
	for i := range 8 { // 6 of alice's 10 are gone: her own sign-up, 5 above
		want := http.StatusConflict
		if i >= 4 {
			want = http.StatusTooManyRequests
		}
		MustSee(t, "alice's email from another address", e.signUpFrom(t, "198.51.100."+itoa(int64(i)), "ALICE@example.com"), want)
	}
	MustSee(t, "a new email from such an address", e.signUpFrom(t, "198.51.100.8", "dave@example.com"), http.StatusSeeOther)
	b := e.browser(t)
	b.get(t, "/signin")
	MustRedirect(t, "alice signs in", b.signInFrom(t, "198.51.100.8", "alice@example.com", "correct horse"), "/dashboard")
}
