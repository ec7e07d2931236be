package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tack-ipfs/tack/gateway"
)

// signUpHTTP signs an account up on the web pages with an HTTP client
// and returns its session's secret, as an attacker would get their own.
// An https site is reached at addr, whatever its certificate.
func signUpHTTP(t *testing.T, site, email, addr string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &nethttp.Client{Jar: jar, CheckRedirect: func(*nethttp.Request, []*nethttp.Request) error { return nethttp.ErrUseLastResponse }}
	if addr != "" {
		c.Transport = &nethttp.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			},
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
		}
	}
	resp, err := c.Get(site + "/signup")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the sign-up page:\n%s", page)
	}
	resp, err = c.PostForm(site+"/signup", url.Values{"email": {email}, "password": {"mallory's password"}, "csrf": {string(m[1])}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	u, _ := url.Parse(site)
	for _, c := range jar.Cookies(u) {
		if c.Name == "tack_session" || c.Name == "__Host-tack_session" {
			return c.Value
		}
	}
	t.Fatalf("signing %s up set no session cookie (status %d)", email, resp.StatusCode)
	return ""
}

// tossingPage is an HTML page whose script sets the web pages' session
// cookie, under every name and for every domain and path a page could
// try, to the attacker's session, then says which cookies it sees.
func tossingPage(session string) []byte {
	return []byte(`<!doctype html>
<html><head><meta charset="utf-8"><title>cat pictures</title></head><body><p id="out">…</p>
<script>
const names = ["tack_session", "__Host-tack_session", "__Secure-tack_session"];
const domains = ["", "; domain=" + location.hostname, "; domain=ipfs.localhost", "; domain=localhost", "; domain=.localhost", "; domain=127.0.0.1"];
const paths = ["/", "/tokens", "/dashboard"];
for (const n of names) for (const d of domains) for (const p of paths) {
	document.cookie = n + "=` + session + `; path=" + p + "; max-age=86400; samesite=lax" + d;
}
document.getElementById("out").textContent = "tossed at " + location.host + ": " + document.cookie;
</script></body></html>`)
}

// A page the gateway serves cannot sign a visitor in or out of the web
// pages (issue 15, finding 5), in real Chromium: an attacker pins an HTML
// page whose script sets the session cookie to the attacker's session, in
// every variant document.cookie allows; a visitor opens it on the gateway
// for browsers, then the web pages, in the same browser profile.
//
// With the gateway on a site of its own (the web pages on 127.0.0.1, the
// subdomain gateway on localhost, as docs/api.md says for local use) a
// signed-out visitor stays signed out and a signed-in one stays who they
// were. The same page served by the same deserialized handler on the web
// pages' host at another port, the setup that tack serve now refuses,
// signs the visitor in as the attacker: the scenario can fail.
func TestBrowserGatewayCannotTossCookies(t *testing.T) {
	// Not parallel: Chromium (see TestBrowser).
	browser := mustBrowser(t)
	m := MustOpenMain(t, tempData(t), func(c *Config) { c.GatewayListen, c.GatewayURL = "127.0.0.1:0", "http://localhost" })
	site := m.Config.PublicURL
	_, port, _ := strings.Cut(m.GatewayAddr(), "127.0.0.1:")

	mallory := signUpHTTP(t, site, "mallory@example.com", "")
	b := newBuilder(t)
	root := b.dir(entry{"index.html", b.file(tossingPage(mallory), 1<<20).Cid()}).Cid()
	if got := loadFixture(t, m, b.car(root)); !got.Equals(root) {
		t.Fatalf("loaded %s, want %s", got, root)
	}

	// The gateway as --gateway-listen served it before: deserialized
	// paths on the web pages' host name, another port.
	old, err := gateway.NewHandler(m.Blocks, gateway.Config{Deserialized: true})
	if err != nil {
		t.Fatal(err)
	}
	oldGateway := httptest.NewServer(old)
	t.Cleanup(oldGateway.Close)
	if !strings.HasPrefix(oldGateway.URL, "http://127.0.0.1:") || !strings.HasPrefix(site, "http://127.0.0.1:") {
		t.Fatalf("the old setup needs the web pages (%s) and the old gateway (%s) on one host", site, oldGateway.URL)
	}

	newPage := "http://localhost:" + port + "/ipfs/" + root.String() + "/"
	oldPage := oldGateway.URL + "/ipfs/" + root.String() + "/"
	for i, tc := range []struct {
		name, page string
		signedIn   bool
		tossed     bool // whether the attack works: only on the old setup
	}{
		{"subdomain gateway, signed out", newPage, false, false},
		{"subdomain gateway, signed in", newPage, true, false},
		{"old setup, signed out", oldPage, false, true},
		{"old setup, signed in", oldPage, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab := newBrowserContext(t, browser)
			visitor := ""
			if tc.signedIn {
				visitor = fmt.Sprintf("visitor%d@example.com", i)
				signUp(t, tab, "the visitor signs up", site, visitor)
			}
			browse(t, tab, "the visitor opens the pinned page on the gateway",
				chromedp.Navigate(tc.page),
				waitText(`#out`, "tossed at"),
			)
			seen := read(t, tab, "what the page saw", chromedp.Text(chromedp.ID("out")))
			where := read(t, tab, "where the page is", chromedp.Location())
			t.Logf("at %s: %s", where, seen)
			if !tc.tossed && !strings.Contains(where, ".ipfs.localhost:"+port+"/") {
				t.Errorf("the page was served at %s, not on its CID's origin", where)
			}

			for _, p := range []string{"/tokens", "/dashboard"} {
				browse(t, tab, "the visitor opens "+p, chromedp.Navigate(site+p), chromedp.WaitReady(chromedp.CSS(`main`)))
				text := read(t, tab, "the page", chromedp.Text(chromedp.CSS(`body`)))
				at := read(t, tab, "where the page is", chromedp.Location())
				asMallory := strings.Contains(text, "mallory@example.com")
				if tc.tossed {
					// The old setup: the attack works, at least on /tokens.
					if p == "/tokens" && !asMallory {
						t.Errorf("old setup: %s at %s does not show the attacker's account; the scenario cannot fail:\n%s", p, at, text)
					}
					continue
				}
				if asMallory {
					t.Errorf("%s at %s shows the attacker's account:\n%s", p, at, text)
				}
				if tc.signedIn && !strings.Contains(text, visitor) {
					t.Errorf("%s at %s no longer shows the visitor %s:\n%s", p, at, visitor, text)
				}
				if !tc.signedIn && !strings.Contains(at, "/signin") {
					t.Errorf("a signed-out visitor got %s at %s, want the sign-in page:\n%s", p, at, text)
				}
			}
		})
	}
}

// Over https the web pages' cookies are __Host- cookies, which no other
// page can set: in Chromium, a page on the web pages' own host name at
// another port, over plain http (where a gateway used to be, or anything
// else the operator runs there), sets tack_session and every variant of
// it to an attacker's session; a visitor then opens the https web pages
// and is still signed out, or still themselves. With the names as they
// were (tack_session, Secure), both visitors saw the attacker's /tokens
// and /dashboard.
func TestBrowserHTTPSCookiesCannotBeTossed(t *testing.T) {
	// Not parallel: Chromium (see TestBrowser).
	browser := mustBrowser(t)
	// The TLS proxy in front of tack, at https://pin.localhost:PORT.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	site := "https://pin.localhost:" + port
	m := MustOpenMain(t, tempData(t), func(c *Config) { c.PublicURL = site })
	backend, _ := url.Parse("http://" + m.HTTPAddr())
	proxy := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(backend))
	proxy.Listener.Close()
	proxy.Listener = ln
	proxy.StartTLS()
	t.Cleanup(proxy.Close)

	mallory := signUpHTTP(t, site, "mallory@example.com", ln.Addr().String())
	page := tossingPage(mallory)
	tosser := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	}))
	t.Cleanup(tosser.Close)
	_, tosserPort, _ := net.SplitHostPort(strings.TrimPrefix(tosser.URL, "http://"))
	tossing := "http://pin.localhost:" + tosserPort + "/"

	for i, signedIn := range []bool{false, true} {
		tab := newBrowserContext(t, browser)
		visitor := ""
		if signedIn {
			visitor = fmt.Sprintf("https-visitor%d@example.com", i)
			signUp(t, tab, "the visitor signs up over https", site, visitor)
		}
		browse(t, tab, "the visitor opens the tossing page", chromedp.Navigate(tossing), waitText(`#out`, "tossed at"))
		t.Logf("signed in %v: %s", signedIn, read(t, tab, "what the page saw", chromedp.Text(chromedp.ID("out"))))
		for _, p := range []string{"/tokens", "/dashboard"} {
			browse(t, tab, "the visitor opens "+p, chromedp.Navigate(site+p), chromedp.WaitReady(chromedp.CSS(`main`)))
			text := read(t, tab, "the page", chromedp.Text(chromedp.CSS(`body`)))
			at := read(t, tab, "where the page is", chromedp.Location())
			if strings.Contains(text, "mallory@example.com") {
				t.Errorf("signed in %v: %s at %s shows the attacker's account:\n%s", signedIn, p, at, text)
			}
			if signedIn && !strings.Contains(text, visitor) {
				t.Errorf("%s at %s no longer shows the visitor %s:\n%s", p, at, visitor, text)
			}
			if !signedIn && !strings.Contains(at, "/signin") {
				t.Errorf("a signed-out visitor got %s at %s, want the sign-in page:\n%s", p, at, text)
			}
		}
	}
}

// signUp signs a visitor up on the web pages at site, in the browser tab,
// and waits for the page that names them.
func signUp(t *testing.T, tab context.Context, what, site, email string) {
	t.Helper()
	browse(t, tab, what,
		chromedp.Navigate(site+"/signup"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=password]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), email),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "correct horse battery"),
		chromedp.Submit(chromedp.CSS(`input[name=password]`)),
		waitText(`body`, email),
	)
}
