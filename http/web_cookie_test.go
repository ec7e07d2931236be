package http_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	tackhttp "github.com/tack-ipfs/tack/http"
)

// cookieBrowser keeps cookies by name, as a browser does for one host,
// without the standard jar's rule that Secure cookies go only to https
// (the test server is plain http behind an https --public-url, as behind
// a TLS proxy).
type cookieBrowser struct {
	e       *webEnv
	cookies map[string]string
	set     []*http.Cookie // every cookie the pages set
}

func (b *cookieBrowser) do(t *testing.T, method, path string, form url.Values, cookies ...*http.Cookie) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.e.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookies == nil {
		for name, value := range b.cookies {
			req.AddCookie(&http.Cookie{Name: name, Value: value})
		}
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range resp.Cookies() {
		b.set = append(b.set, c)
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	return resp, string(text)
}

// Over https (--public-url https://…) every cookie of the web pages is a
// __Host- cookie: Secure, Path=/, no Domain, so that a page of another
// host (a gateway on a sibling or parent domain, or on this host over
// plain http) cannot set one for the pages; a cookie under the old name,
// which such a page could still set, signs nobody in.
func TestWebCookiesHostPrefix(t *testing.T) {
	e := newWebEnv(t, func(w *tackhttp.Web) { w.PublicURL = "https://tack.example.com" })
	b := &cookieBrowser{e: e, cookies: map[string]string{}}
	_, page := b.do(t, "GET", "/signup", nil)
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the sign-up page:\n%s", page)
	}
	resp, page := b.do(t, "POST", "/signup", url.Values{"email": {"alice@example.com"}, "password": {"correct horse"}, "csrf": {m[1]}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/tokens" {
		t.Fatalf("sign up: %d to %q:\n%s", resp.StatusCode, resp.Header.Get("Location"), page)
	}
	for _, name := range []string{"__Host-tack_session", "__Host-tack_csrf", "__Host-tack_device"} {
		if b.cookies[name] == "" {
			t.Errorf("no %s cookie after signing up; the pages set %v", name, b.set)
		}
	}
	for _, c := range b.set {
		if !strings.HasPrefix(c.Name, "__Host-") || !c.Secure || c.Path != "/" || c.Domain != "" || !c.HttpOnly {
			t.Errorf("cookie %s: Secure %v, Path %q, Domain %q, HttpOnly %v; want a __Host- name, Secure, Path=/, no Domain, HttpOnly",
				c.Name, c.Secure, c.Path, c.Domain, c.HttpOnly)
		}
	}
	if resp, page := b.do(t, "GET", "/tokens", nil); resp.StatusCode != http.StatusOK || !strings.Contains(page, "alice@example.com") {
		t.Fatalf("token page with the __Host- session: %d:\n%s", resp.StatusCode, page)
	}

	// The session's secret under the name without the prefix, as a page
	// of another host could set it for this one: not signed in.
	session := b.cookies["__Host-tack_session"]
	tossed := &http.Cookie{Name: "tack_session", Value: session}
	if resp, _ := b.do(t, "GET", "/tokens", nil, tossed); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/signin") {
		t.Errorf("token page with only an unprefixed tack_session: %d to %q, want a redirect to /signin", resp.StatusCode, resp.Header.Get("Location"))
	}

	// Signing out deletes the __Host- session cookie.
	_, page = b.do(t, "GET", "/tokens", nil)
	m = csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the token page:\n%s", page)
	}
	if resp, _ := b.do(t, "POST", "/signout", url.Values{"csrf": {m[1]}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out: %d", resp.StatusCode)
	}
	if _, ok := b.cookies["__Host-tack_session"]; ok {
		t.Error("the __Host- session cookie is still set after signing out")
	}
	if resp, _ := b.do(t, "GET", "/tokens", nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("token page after signing out: %d, want a redirect to /signin", resp.StatusCode)
	}
}
