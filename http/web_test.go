package http_test

import (
	"context"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/auth"
	tackhttp "github.com/tack-ipfs/tack/http"
	"github.com/tack-ipfs/tack/storetest"
	"golang.org/x/time/rate"
)

// tlog sends log lines to the test's log.
type tlog struct{ tb testing.TB }

func (w tlog) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// mustCID returns a new random CID and its content key.
func mustCID(tb testing.TB) (string, string) { return storetest.NewCID(tb) }

// webEnv is a Server with the web pages mounted, over a real store, real
// tokens and real password hashes, and a clock the test moves.
type webEnv struct {
	*env
	web *tackhttp.Web

	mu  sync.Mutex
	now time.Time
}

func (e *webEnv) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *webEnv) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

// newWebEnv starts a server with the pages; configure may change the Web
// before it is mounted.
func newWebEnv(tb testing.TB, configure func(w *tackhttp.Web)) *webEnv {
	tb.Helper()
	e := &webEnv{now: time.Now()}
	e.web = &tackhttp.Web{
		HashPassword:  auth.HashPassword,
		CheckPassword: auth.CheckPassword,
		Key:           []byte(strings.Repeat("k", 32)),
		PublicURL:     "http://127.0.0.1:8080",
		Now:           e.clock,
		Logger:        slog.New(slog.NewTextHandler(tlog{tb}, nil)),
	}
	e.env = newEnv(tb, func(s *tackhttp.Server) {
		e.web.Store = s.Store
		e.web.Issue = s.Auth.(*auth.Auth).IssueScoped
		e.web.API = s
		if configure != nil {
			configure(e.web)
		}
	}, func(mux *http.ServeMux) { e.web.Mount(mux) })
	return e
}

// browser is one browser: its own cookies, and the CSRF token of the last
// page it loaded, which its forms send back.
type browser struct {
	e      *webEnv
	client *http.Client
	csrf   string
}

func (e *webEnv) browser(tb testing.TB) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &browser{e: e, client: &http.Client{
		Jar: jar,
		// Redirects are what the tests check: do not follow them.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// page is a loaded page.
type page struct {
	status   int
	location string
	header   http.Header
	body     string
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) send(tb testing.TB, req *http.Request) page {
	tb.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if m := csrfField.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return page{status: resp.StatusCode, location: resp.Header.Get("Location"), header: resp.Header, body: string(body)}
}

// get loads a page.
func (b *browser) get(tb testing.TB, path string) page {
	tb.Helper()
	req, err := http.NewRequest("GET", b.e.url+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return b.send(tb, req)
}

// post submits a form with the CSRF token of the last page loaded, unless
// the form has its own "csrf" (an empty one sends none).
func (b *browser) post(tb testing.TB, path string, form url.Values) page {
	tb.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", b.csrf)
	} else if form.Get("csrf") == "" {
		form.Del("csrf")
	}
	req, err := http.NewRequest("POST", b.e.url+path, strings.NewReader(form.Encode()))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.send(tb, req)
}

// MustSee checks a page's status and that its body has every want.
func MustSee(tb testing.TB, what string, p page, status int, want ...string) {
	tb.Helper()
	if p.status != status {
		tb.Fatalf("%s: got status %d, want %d; body:\n%s", what, p.status, status, p.body)
	}
	for _, w := range want {
		if !strings.Contains(p.body, w) {
			tb.Errorf("%s: page lacks %q; body:\n%s", what, w, p.body)
		}
	}
}

// MustRedirect checks that p sends the browser to location.
func MustRedirect(tb testing.TB, what string, p page, location string) {
	tb.Helper()
	if p.status != http.StatusSeeOther || p.location != location {
		tb.Fatalf("%s: got %d to %q, want 303 to %q; body:\n%s", what, p.status, p.location, location, p.body)
	}
}

// MustSignUp signs a new browser up and returns it signed in.
func (e *webEnv) MustSignUp(tb testing.TB, email string) *browser {
	tb.Helper()
	b := e.browser(tb)
	b.get(tb, "/signup")
	MustRedirect(tb, "sign up "+email, b.post(tb, "/signup", url.Values{"email": {email}, "password": {"correct horse"}}), "/tokens")
	return b
}

// MustOperator creates an operator account with a password and returns a
// browser signed in as it.
func (e *webEnv) MustOperator(tb testing.TB, email string) (*browser, *tack.Account) {
	tb.Helper()
	hash, err := auth.HashPassword("operator password")
	if err != nil {
		tb.Fatal(err)
	}
	a := &tack.Account{Email: email, Admin: true, Access: tack.AccessApproved, PasswordHash: hash}
	if err := e.db.CreateAccount(context.Background(), a); err != nil {
		tb.Fatal(err)
	}
	b := e.browser(tb)
	b.get(tb, "/signin")
	MustRedirect(tb, "operator signs in", b.post(tb, "/signin", url.Values{"email": {email}, "password": {"operator password"}}), "/dashboard")
	return b, a
}

func mustAccountByEmail(tb testing.TB, e *webEnv, email string) *tack.Account {
	tb.Helper()
	a, err := e.db.FindAccountByEmail(context.Background(), email)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// MustApprovedUser signs a new user up, approves its pinning access, and
// returns its browser, its account and a token made on the token page,
// checked against the API.
func (e *webEnv) MustApprovedUser(tb testing.TB, email string) (*browser, *tack.Account, string) {
	tb.Helper()
	b := e.MustSignUp(tb, email)
	acct := mustAccountByEmail(tb, e, email)
	if err := e.db.SetAccountAccess(context.Background(), acct.ID, tack.AccessApproved, ""); err != nil {
		tb.Fatal(err)
	}
	token := b.MustCreateToken(tb, "laptop")
	MustResults(tb, e.do(tb, "GET", "/pins", token, ""))
	return b, acct, token
}

// mustLink returns the path of the made-once link on an operator's page
// whose path starts with prefix (such as "/reset?code=").
func mustLink(tb testing.TB, p page, prefix string) string {
	tb.Helper()
	m := regexp.MustCompile(`value="http://127\.0\.0\.1:8080(` + regexp.QuoteMeta(prefix) + `[^"]+)"`).FindStringSubmatch(p.body)
	if m == nil {
		tb.Fatalf("no %s link on the page:\n%s", prefix, p.body)
	}
	return m[1]
}

var tokenValue = regexp.MustCompile(`id="token-value" class="mono" readonly value="([^"]+)"`)

// MustCreateToken creates a token on the token page and returns it.
func (b *browser) MustCreateToken(tb testing.TB, name string) string {
	tb.Helper()
	b.get(tb, "/tokens")
	p := b.post(tb, "/tokens", url.Values{"name": {name}})
	MustSee(tb, "create token", p, http.StatusOK, "shown only this once", "ipfs pin remote service add tack http://127.0.0.1:8080/ ")
	m := tokenValue.FindStringSubmatch(p.body)
	if m == nil {
		tb.Fatalf("no token on the page:\n%s", p.body)
	}
	return m[1]
}

func TestWebSignUpSignOutSignIn(t *testing.T) {
	e := newWebEnv(t, nil)
	b := e.browser(t)
	MustRedirect(t, "home, signed out", b.get(t, "/"), "/signin")
	MustSee(t, "sign-up page", b.get(t, "/signup"), http.StatusOK, "Create an account")
	p := b.post(t, "/signup", url.Values{"email": {"Alice@Example.com"}, "password": {"correct horse"}})
	MustRedirect(t, "sign up", p, "/tokens")
	var session *http.Cookie
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		if c.Name == "tack_session" {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Secure {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Lax, not Secure on http", session)
	}
	MustSee(t, "token page", b.get(t, "/tokens"), http.StatusOK, "alice@example.com", "Request API Pinning Access")
	MustRedirect(t, "home, signed in", b.get(t, "/"), "/dashboard")

	MustRedirect(t, "sign out", b.post(t, "/signout", nil), "/signin")
	MustRedirect(t, "token page after sign-out", b.get(t, "/tokens"), "/signin?expired=1&next=%2Ftokens")

	b.get(t, "/signin")
	MustSee(t, "wrong password", b.post(t, "/signin", url.Values{"email": {"alice@example.com"}, "password": {"wrong horse"}}),
		http.StatusUnauthorized, "Wrong email or password.", `value="alice@example.com"`)
	MustSee(t, "unknown email", b.post(t, "/signin", url.Values{"email": {"bob@example.com"}, "password": {"correct horse"}}),
		http.StatusUnauthorized, "Wrong email or password.")
	MustSee(t, "no password", b.post(t, "/signin", url.Values{"email": {"alice@example.com"}}),
		http.StatusBadRequest, "Enter your email and your password.")
	MustRedirect(t, "sign in, back to where the browser was sent from",
		b.post(t, "/signin", url.Values{"email": {"ALICE@example.com"}, "password": {"correct horse"}, "next": {"/tokens"}}), "/tokens")
	MustSee(t, "signed in again", b.get(t, "/tokens"), http.StatusOK, "alice@example.com")
}

// TestWebSignInNext: a sign-in sends the browser back only to one of the
// site's own pages (with its query); any other next=, however it is
// dressed up, sends it to the dashboard, and the sign-in page does not
// even carry it in its form.
func TestWebSignInNext(t *testing.T) {
	e := newWebEnv(t, func(w *tackhttp.Web) { w.SignInLimit = tackhttp.RateLimit{Rate: rate.Inf} })
	e.MustSignUp(t, "alice@example.com")
	for _, tc := range []struct {
		class, next, want string // want "" is the fallback, /dashboard
	}{
		{"page", "/tokens", "/tokens"},
		{"page", "/access", "/access"},
		{"page", "/admin", "/admin"},
		{"page with a query", "/dashboard?status=queued&name=caf%C3%A9&before=2026-11-24T10:00:00.5Z", "/dashboard?status=queued&name=caf%C3%A9&before=2026-11-24T10:00:00.5Z"},
		{"empty", "", ""},
		{"absolute URL", "https://evil.test/", ""},
		{"absolute URL", "http:evil.test", ""},
		{"absolute URL of this site", "http://127.0.0.1:8080/tokens", ""},
		{"scheme", "javascript:alert(1)", ""},
		{"scheme", "data:text/html,hi", ""},
		{"protocol-relative", "//evil.test/", ""},
		{"protocol-relative", "///evil.test", ""},
		{"backslash", "/\\evil.test", ""},
		{"backslash", "\\\\evil.test", ""},
		{"backslash", "/tokens\\..\\..\\evil.test", ""},
		{"backslash after dot segments", "/a/../\\evil.test/", ""},
		{"backslash after dot segments", "/./\\evil.test", ""},
		{"backslash in the query", "/tokens?x=\\evil.test", ""},
		{"encoded slashes", "/%2f%2fevil.test", ""},
		{"encoded slashes", "/%2F%2Fevil.test", ""},
		{"encoded slashes", "%2F%2Fevil.test", ""},
		{"encoded slashes", "/tokens%2f..%2f..%2f%2fevil.test", ""},
		{"encoded backslash", "/%5cevil.test", ""},
		{"encoded backslash", "/%5Cevil.test", ""},
		{"encoded backslash in the query", "/tokens?x=%5Cevil.test", ""},
		{"encoded dots", "/%2e%2e/%2e%2e/evil.test", ""},
		{"control character", "/\t/evil.test", ""},
		{"control character", "/\n/evil.test", ""},
		{"control character", "/tokens\r\nSet-Cookie: a=b", ""},
		{"control character", "/\x00/evil.test", ""},
		{"control character in the query", "/tokens?x=\x7f", ""},
		{"encoded control character in the query", "/tokens?x=%0d%0aSet-Cookie:%20a=b", ""},
		{"dot segments", "/a/../tokens", ""},
		{"dot segments", "/./tokens", ""},
		{"dot segments", "/tokens/../admin", ""},
		{"not a page", "/", ""},
		{"not a page", "/evil.test", ""},
		{"not a page", "/signout", ""},
		{"not a page", "/tokens/", ""},
		{"not a page", "/TOKENS", ""},
		{"fragment", "/tokens#x", ""},
		{"broken escape", "/tokens?x=%zz", ""},
		{"space", "/tokens?x= //evil.test", ""},
		{"too long", "/tokens?x=" + strings.Repeat("a", 3000), ""},
	} {
		t.Run(tc.class+" "+tc.next[:min(len(tc.next), 40)], func(t *testing.T) {
			want := tc.want
			if want == "" {
				want = "/dashboard"
			}
			b := e.browser(t)
			p := b.get(t, "/signin?expired=1&next="+url.QueryEscape(tc.next))
			MustSee(t, "sign-in page", p, http.StatusOK, `name="next" value="`+template.HTMLEscapeString(tc.want)+`"`)
			MustRedirect(t, "sign in with next="+tc.next, b.post(t, "/signin", url.Values{"email": {"alice@example.com"}, "password": {"correct horse"}, "next": {tc.next}}), want)
		})
	}
}

func TestWebSignUpRefusals(t *testing.T) {
	e := newWebEnv(t, nil)
	e.MustSignUp(t, "alice@example.com")
	b := e.browser(t)
	b.get(t, "/signup")
	for _, tc := range []struct {
		name, email, password string
		status                int
		want                  string
	}{
		{"duplicate email", "alice@example.com", "another horse", http.StatusConflict, "An account with this email already exists."},
		{"duplicate email, other case", " ALICE@example.com ", "another horse", http.StatusConflict, "An account with this email already exists."},
		{"no email", "", "correct horse", http.StatusBadRequest, "Enter your email address."},
		{"not an email", "alice", "correct horse", http.StatusBadRequest, "is not an email address."},
		{"named address", "Alice <alice@example.org>", "correct horse", http.StatusBadRequest, "is not an email address."},
		{"short password", "carol@example.com", "short", http.StatusBadRequest, "at least 8 characters"},
		{"long password", "carol@example.com", strings.Repeat("p", 257), http.StatusBadRequest, "at least 8 characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			MustSee(t, tc.name, b.post(t, "/signup", url.Values{"email": {tc.email}, "password": {tc.password}}), tc.status, tc.want)
		})
	}
	accts, err := e.db.FindAccounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(accts) != 1 {
		t.Errorf("%d accounts after the refusals, want 1", len(accts))
	}
}

func TestWebCSRF(t *testing.T) {
	e := newWebEnv(t, nil)
	alice := e.MustSignUp(t, "alice@example.com")
	alice.get(t, "/tokens")
	good := alice.csrf

	MustSee(t, "sign-in form without its CSRF token", e.browser(t).post(t, "/signin", url.Values{"csrf": {""}, "email": {"alice@example.com"}, "password": {"correct horse"}}),
		http.StatusForbidden, "This form has expired or was sent from another site.")
	MustSee(t, "sign-up form without its CSRF token", e.browser(t).post(t, "/signup", url.Values{"csrf": {""}, "email": {"bob@example.com"}, "password": {"correct horse"}}),
		http.StatusForbidden, "This form has expired")
	MustSee(t, "token form without its CSRF token", alice.post(t, "/tokens", url.Values{"csrf": {""}, "name": {"laptop"}}),
		http.StatusForbidden, "This form has expired")
	MustSee(t, "token form with a forged CSRF token", alice.post(t, "/tokens", url.Values{"csrf": {"AAAA" + good[4:]}, "name": {"laptop"}}),
		http.StatusForbidden, "This form has expired")
	// Another browser's valid token does not work with alice's cookies.
	other := e.browser(t)
	other.get(t, "/signin")
	MustSee(t, "token form with another browser's CSRF token", alice.post(t, "/tokens", url.Values{"csrf": {other.csrf}, "name": {"laptop"}}),
		http.StatusForbidden, "This form has expired")
	// The right token, in a form that another site made the browser send.
	req, err := http.NewRequest("POST", e.url+"/tokens", strings.NewReader(url.Values{"csrf": {good}, "name": {"laptop"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	MustSee(t, "token form from another site", alice.send(t, req), http.StatusForbidden, "This form has expired")
	tokens, err := e.db.FindTokens(context.Background(), mustAccountByEmail(t, e, "alice@example.com").ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(tokens) != 0 {
		t.Fatalf("%d tokens created by refused forms", len(tokens))
	}
	MustSee(t, "token form with its CSRF token", alice.post(t, "/tokens", url.Values{"csrf": {good}, "name": {"laptop"}}), http.StatusOK, "shown only this once")
	MustSee(t, "sign-out without its CSRF token", alice.post(t, "/signout", url.Values{"csrf": {""}}), http.StatusForbidden)
	MustSee(t, "still signed in", alice.get(t, "/tokens"), http.StatusOK, "alice@example.com")
}

func TestWebExpiredSession(t *testing.T) {
	e := newWebEnv(t, func(w *tackhttp.Web) { w.SessionTTL = time.Hour })
	b := e.MustSignUp(t, "alice@example.com")
	MustSee(t, "fresh session", b.get(t, "/dashboard"), http.StatusOK, "alice@example.com")
	csrf := b.csrf
	e.advance(time.Hour + time.Second)
	MustRedirect(t, "expired session", b.get(t, "/dashboard?status=queued"), "/signin?expired=1&next=%2Fdashboard%3Fstatus%3Dqueued")
	p := b.post(t, "/tokens", url.Values{"csrf": {csrf}, "name": {"laptop"}})
	MustRedirect(t, "form sent with an expired session", p, "/signin?expired=1&next=%2Ftokens")
	MustSee(t, "sign-in page after expiry", b.get(t, "/signin?expired=1&next=%2Ftokens"), http.StatusOK, "Please sign in to continue.", `name="next" value="/tokens"`)
}

func TestWebOperatorPageForbidden(t *testing.T) {
	e := newWebEnv(t, nil)
	alice := e.MustSignUp(t, "alice@example.com")
	acct := mustAccountByEmail(t, e, "alice@example.com")
	MustSee(t, "operator's page", alice.get(t, "/admin"), http.StatusForbidden, "Only the operators of this service may see this page.")
	alice.get(t, "/tokens")
	MustSee(t, "approving oneself", alice.post(t, "/admin/accounts/"+itoa(acct.ID)+"/access", url.Values{"decision": {"approve"}}), http.StatusForbidden)
	MustSee(t, "inviting", alice.post(t, "/admin/invites", nil), http.StatusForbidden)
	if a := mustAccountByEmail(t, e, "alice@example.com"); a.Access != tack.AccessNone {
		t.Errorf("access %s after a non-operator's approval, want none", a.Access)
	}
	if strings.Contains(alice.get(t, "/tokens").body, `href="/admin"`) {
		t.Error("the navigation links to the operator's page for a non-operator")
	}
	MustRedirect(t, "operator's page signed out", e.browser(t).get(t, "/admin"), "/signin?expired=1&next=%2Fadmin")
}

func TestWebTokens(t *testing.T) {
	e := newWebEnv(t, nil)
	_, operator := e.MustOperator(t, "op@example.com")
	alice, acct, token := e.MustApprovedUser(t, "alice@example.com")

	list := alice.get(t, "/tokens")
	MustSee(t, "token list", list, http.StatusOK, "laptop", "Revoke")
	if strings.Contains(list.body, token) {
		t.Error("the token is shown again after the page that created it")
	}
	MustSee(t, "unnamed token", alice.post(t, "/tokens", url.Values{"name": {"  "}}), http.StatusBadRequest, "Give the token a name")
	MustSee(t, "long name", alice.post(t, "/tokens", url.Values{"name": {strings.Repeat("n", 101)}}), http.StatusBadRequest, "Give the token a name")

	// The operator's own token, revoked through alice's page: 404, and it
	// keeps working.
	opToken, opTok, err := e.auth.Issue(context.Background(), operator.ID, "op")
	if err != nil {
		t.Fatal(err)
	}
	alice.get(t, "/tokens")
	MustSee(t, "revoking another account's token", alice.post(t, "/tokens/"+opTok.ID+"/revoke", nil), http.StatusNotFound, "This account has no such token.")
	MustSee(t, "revoking a token that does not exist", alice.post(t, "/tokens/nope/revoke", nil), http.StatusNotFound)
	MustResults(t, e.do(t, "GET", "/pins", opToken, ""))

	tokens, err := e.db.FindTokens(context.Background(), acct.ID)
	if err != nil || len(tokens) != 1 {
		t.Fatalf("tokens %v, %v: want the one", tokens, err)
	}
	MustRedirect(t, "revoke", alice.post(t, "/tokens/"+tokens[0].ID+"/revoke", nil), "/tokens?notice=token-revoked")
	MustSee(t, "after revoking", alice.get(t, "/tokens?notice=token-revoked"), http.StatusOK, "The token was revoked.", "revoked 20")
	MustFailure(t, e.do(t, "GET", "/pins", token, ""), http.StatusUnauthorized, "UNAUTHORIZED")
}

// TestWebTokenLimit: past tack.MaxTokens tokens that are not revoked, the
// token page says what to do; revoking one makes room.
func TestWebTokenLimit(t *testing.T) {
	e := newWebEnv(t, nil)
	alice := e.MustSignUp(t, "alice@example.com")
	acct := mustAccountByEmail(t, e, "alice@example.com")
	for range tack.MaxTokens - 1 {
		storetest.MustCreateToken(t, e.db, acct.ID, "made before")
	}
	alice.MustCreateToken(t, "the last one")
	p := alice.post(t, "/tokens", url.Values{"name": {"one too many"}})
	MustSee(t, "one token too many", p, http.StatusConflict, "This account has 100 API tokens, the most it may have.", "Revoke one", `value="one too many"`, "<h1>API tokens</h1>")
	if strings.Contains(p.body, "shown only this once") {
		t.Error("a token was shown past the limit")
	}
	tokens, err := e.db.FindTokens(context.Background(), acct.ID)
	if err != nil || len(tokens) != tack.MaxTokens {
		t.Fatalf("%d tokens (%v), want %d", len(tokens), err, tack.MaxTokens)
	}
	MustRedirect(t, "revoke one", alice.post(t, "/tokens/"+tokens[0].ID+"/revoke", nil), "/tokens?notice=token-revoked")
	alice.MustCreateToken(t, "in its place")
}

func TestWebAccessRequestFlow(t *testing.T) {
	e := newWebEnv(t, nil)
	op, _ := e.MustOperator(t, "op@example.com")
	alice := e.MustSignUp(t, "alice@example.com")
	token := alice.MustCreateToken(t, "laptop")
	details := MustFailure(t, e.do(t, "GET", "/pins", token, ""), http.StatusForbidden, "PINNING_NOT_AUTHORIZED")
	if !strings.Contains(details, accessURL) {
		t.Errorf("403 details %q do not name %s", details, accessURL)
	}

	MustSee(t, "access form", alice.get(t, "/access"), http.StatusOK, "What will you pin?")
	cid, _ := mustCID(t)
	for _, tc := range []struct {
		name string
		form url.Values
		want string
	}{
		{"nothing said", url.Values{"volume": {"1 GB"}}, "Say what you will pin"},
		{"no volume", url.Values{"what": {"photos"}}, "Say how much you expect to pin"},
		{"bad CID", url.Values{"what": {"photos"}, "volume": {"1 GB"}, "cids": {cid + "\nnot-a-cid"}}, "Example CID not-a-cid"},
		{"IPNS name", url.Values{"what": {"photos"}, "volume": {"1 GB"}, "cids": {"/ipns/example.com"}}, "IPNS"},
		{"too many CIDs", url.Values{"what": {"photos"}, "volume": {"1 GB"}, "cids": {strings.Repeat(cid+"\n", 11)}}, "at most 10"},
	} {
		MustSee(t, tc.name, alice.post(t, "/access", tc.form), http.StatusBadRequest, tc.want)
	}
	MustRedirect(t, "request access", alice.post(t, "/access", url.Values{"what": {"Family photos"}, "volume": {"about 20 GB"}, "cids": {cid}}), "/tokens?notice=access-requested")
	MustSee(t, "token page, requested", alice.get(t, "/tokens?notice=access-requested"), http.StatusOK, "Your request for pinning access was sent.", "is waiting for the operator")
	details = MustFailure(t, e.do(t, "GET", "/pins", token, ""), http.StatusForbidden, "PINNING_NOT_AUTHORIZED")
	if !strings.Contains(details, "waiting for approval") || !strings.Contains(details, accessURL) {
		t.Errorf("403 details %q", details)
	}

	acct := mustAccountByEmail(t, e, "alice@example.com")
	MustSee(t, "operator's page", op.get(t, "/admin"), http.StatusOK, "alice@example.com", "Family photos", "about 20 GB", cid)
	MustSee(t, "deny", op.post(t, "/admin/accounts/"+itoa(acct.ID)+"/access", url.Values{"decision": {"deny"}, "message": {"Please say which lab you are with."}}),
		http.StatusOK, "Pinning access of alice@example.com: denied.", "No requests are waiting.")
	MustSee(t, "token page, denied", alice.get(t, "/tokens"), http.StatusOK, "Your request was denied", "Please say which lab you are with.", "Request API Pinning Access again")
	details = MustFailure(t, e.do(t, "GET", "/pins", token, ""), http.StatusForbidden, "PINNING_NOT_AUTHORIZED")
	if !strings.Contains(details, "denied") {
		t.Errorf("403 details %q", details)
	}

	MustSee(t, "access form, denied", alice.get(t, "/access"), http.StatusOK, "Please say which lab you are with.", "Family photos")
	MustRedirect(t, "ask again", alice.post(t, "/access", url.Values{"what": {"Family photos, for the Smith lab"}, "volume": {"about 20 GB"}}), "/tokens?notice=access-requested")
	MustSee(t, "operator's page again", op.get(t, "/admin"), http.StatusOK, "for the Smith lab")
	MustSee(t, "bad decision", op.post(t, "/admin/accounts/"+itoa(acct.ID)+"/access", url.Values{"decision": {"maybe"}}), http.StatusBadRequest, "Choose approve or deny.")
	MustSee(t, "unknown account", op.post(t, "/admin/accounts/999/access", url.Values{"decision": {"approve"}}), http.StatusNotFound, "There is no such account.")
	MustSee(t, "not an account id", op.post(t, "/admin/accounts/x/access", url.Values{"decision": {"approve"}}), http.StatusNotFound)
	MustSee(t, "approve", op.post(t, "/admin/accounts/"+itoa(acct.ID)+"/access", url.Values{"decision": {"approve"}, "message": {"Welcome!"}}),
		http.StatusOK, "Pinning access of alice@example.com: approved.")
	MustSee(t, "token page, approved", alice.get(t, "/tokens"), http.StatusOK, "This account may pin through the API.", "Welcome!")
	MustResults(t, e.do(t, "GET", "/pins", token, ""))
	MustRedirect(t, "asking when approved", alice.post(t, "/access", url.Values{"what": {"more"}, "volume": {"1 TB"}}), "/tokens")
}

func TestWebAutoApprove(t *testing.T) {
	e := newWebEnv(t, func(w *tackhttp.Web) { w.AutoApprove = true })
	alice := e.MustSignUp(t, "alice@example.com")
	token := alice.MustCreateToken(t, "laptop")
	MustResults(t, e.do(t, "GET", "/pins", token, ""))
	if a := mustAccountByEmail(t, e, "alice@example.com"); a.Access != tack.AccessApproved {
		t.Errorf("access %s, want approved", a.Access)
	}
	// An account from before (or the CLI) that asks is approved at once.
	bob, bobToken := e.MustAccount(t, "bob@example.com", tack.AccessNone)
	hash, err := auth.HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.SetAccountPassword(context.Background(), bob.ID, hash); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t)
	b.get(t, "/signin")
	b.post(t, "/signin", url.Values{"email": {"bob@example.com"}, "password": {"correct horse"}})
	b.get(t, "/access")
	MustRedirect(t, "request access", b.post(t, "/access", url.Values{"what": {"backups"}, "volume": {"1 TB"}}), "/tokens?notice=access-approved")
	MustResults(t, e.do(t, "GET", "/pins", bobToken, ""))
}

func TestWebSignupModes(t *testing.T) {
	t.Run("closed", func(t *testing.T) {
		e := newWebEnv(t, func(w *tackhttp.Web) { w.Signup = tackhttp.SignupClosed })
		b := e.browser(t)
		MustSee(t, "sign-up page", b.get(t, "/signup"), http.StatusForbidden, "Sign-up is closed on this service.")
		b.get(t, "/signin")
		MustSee(t, "sign up", b.post(t, "/signup", url.Values{"email": {"alice@example.com"}, "password": {"correct horse"}}), http.StatusForbidden, "Sign-up is closed")
		if strings.Contains(b.get(t, "/signin").body, `href="/signup"`) {
			t.Error("the sign-in page links to sign-up while it is closed")
		}
	})
	t.Run("invite", func(t *testing.T) {
		e := newWebEnv(t, func(w *tackhttp.Web) { w.Signup = tackhttp.SignupInvite })
		b := e.browser(t)
		MustSee(t, "sign-up page without an invitation", b.get(t, "/signup"), http.StatusForbidden, "Sign-up on this service is by invitation.")
		b.get(t, "/signin")
		MustSee(t, "sign up without an invitation", b.post(t, "/signup", url.Values{"email": {"alice@example.com"}, "password": {"correct horse"}}), http.StatusForbidden, "by invitation")
		MustSee(t, "sign up with a made-up invitation", b.post(t, "/signup", url.Values{"email": {"alice@example.com"}, "password": {"correct horse"}, "invite": {"made-up"}}), http.StatusForbidden, "This invitation link is not valid")

		op, _ := e.MustOperator(t, "op@example.com")
		MustSee(t, "operator's page", op.get(t, "/admin"), http.StatusOK, "0 unused invitations still open.")
		p := op.post(t, "/admin/invites", nil)
		MustSee(t, "create invitation", p, http.StatusOK, "1 unused invitation still open.")
		link := strings.ReplaceAll(mustLink(t, p, "/signup?invite="), "&#43;", "+")
		invite, err := url.Parse(link)
		if err != nil {
			t.Fatal(err)
		}
		MustSee(t, "sign-up page with the invitation", b.get(t, link), http.StatusOK, `name="invite" value="`+invite.Query().Get("invite")+`"`)
		MustRedirect(t, "sign up with the invitation", b.post(t, "/signup", url.Values{"email": {"alice@example.com"}, "password": {"correct horse"}, "invite": {invite.Query().Get("invite")}}), "/tokens")
		MustSee(t, "second use", e.browser(t).post(t, "/signup", url.Values{"csrf": {b.csrf}, "email": {"bob@example.com"}, "password": {"correct horse"}, "invite": {invite.Query().Get("invite")}}), http.StatusForbidden)
		c := e.browser(t)
		c.get(t, "/signin")
		MustSee(t, "second use", c.post(t, "/signup", url.Values{"email": {"bob@example.com"}, "password": {"correct horse"}, "invite": {invite.Query().Get("invite")}}), http.StatusForbidden, "This invitation link is not valid")
		MustSee(t, "operator's page after use", op.get(t, "/admin"), http.StatusOK, "0 unused invitations still open.")
	})
}

func TestWebSignInRateLimit(t *testing.T) {
	e := newWebEnv(t, nil)
	e.MustSignUp(t, "alice@example.com")
	b := e.browser(t)
	b.get(t, "/signin")
	for i := range 10 {
		p := b.post(t, "/signin", url.Values{"email": {"alice@example.com"}, "password": {"guess " + itoa(int64(i))}})
		MustSee(t, "wrong password", p, http.StatusUnauthorized)
	}
	p := b.post(t, "/signin", url.Values{"email": {"alice@example.com"}, "password": {"correct horse"}})
	MustSee(t, "attempt over the limit, even with the right password", p, http.StatusTooManyRequests, "Too many sign-in attempts.")
	if p.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	e.advance(2 * time.Minute)
	MustRedirect(t, "after waiting", b.post(t, "/signin", url.Values{"email": {"alice@example.com"}, "password": {"correct horse"}}), "/dashboard")
}

func TestWebBlock(t *testing.T) {
	e := newWebEnv(t, nil)
	op, operator := e.MustOperator(t, "op@example.com")
	alice, acct, token := e.MustApprovedUser(t, "alice@example.com")

	op.get(t, "/admin")
	MustSee(t, "block", op.post(t, "/admin/accounts/"+itoa(acct.ID)+"/block", url.Values{"blocked": {"true"}}), http.StatusOK, "alice@example.com is blocked", "Unblock")
	MustRedirect(t, "blocked account's session", alice.get(t, "/tokens"), "/signin?expired=1&next=%2Ftokens")
	details := MustFailure(t, e.do(t, "GET", "/pins", token, ""), http.StatusForbidden, "PINNING_NOT_AUTHORIZED")
	if !strings.Contains(details, "blocked") {
		t.Errorf("403 details %q", details)
	}
	alice.get(t, "/signin")
	MustSee(t, "blocked sign-in", alice.post(t, "/signin", url.Values{"email": {"alice@example.com"}, "password": {"correct horse"}}), http.StatusForbidden, "This account is blocked")
	MustSee(t, "blocking oneself", op.post(t, "/admin/accounts/"+itoa(operator.ID)+"/block", url.Values{"blocked": {"true"}}), http.StatusBadRequest, "You cannot block your own account.")

	MustSee(t, "unblock", op.post(t, "/admin/accounts/"+itoa(acct.ID)+"/block", url.Values{"blocked": {"false"}}), http.StatusOK, "alice@example.com is unblocked.")
	MustResults(t, e.do(t, "GET", "/pins", token, ""))
	MustRedirect(t, "sign in after unblocking", alice.post(t, "/signin", url.Values{"email": {"alice@example.com"}, "password": {"correct horse"}}), "/dashboard")
}

// The API takes Bearer tokens only: a signed-in browser's cookies get 401.
func TestWebSessionIsNotAnAPIToken(t *testing.T) {
	e := newWebEnv(t, func(w *tackhttp.Web) { w.AutoApprove = true })
	b := e.MustSignUp(t, "alice@example.com")
	req, err := http.NewRequest("GET", e.url+"/pins", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /pins with the session cookie: %d, want 401", resp.StatusCode)
	}
	req, _ = http.NewRequest("POST", e.url+"/pins", strings.NewReader(`{"cid":"bafkqaaa"}`))
	resp, err = b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST /pins with the session cookie: %d, want 401", resp.StatusCode)
	}
}

func TestWebPinsPage(t *testing.T) {
	e := newWebEnv(t, nil)
	alice := e.MustSignUp(t, "alice@example.com")
	acct := mustAccountByEmail(t, e, "alice@example.com")
	MustSee(t, "no pins", alice.get(t, "/dashboard"), http.StatusOK, "No pins yet.", "request pinning access")

	ctx := context.Background()
	var last *tack.PinRequest
	for i := range 60 {
		c, key := mustCID(t)
		name := "photo " + itoa(int64(i))
		if i%2 == 1 {
			name = "Backup " + itoa(int64(i))
		}
		last = &tack.PinRequest{AccountID: acct.ID, Pin: tack.Pin{CID: c, Name: name}, Key: key, Status: tack.StatusQueued}
		if err := e.db.CreatePin(ctx, last); err != nil {
			t.Fatal(err)
		}
	}
	// The newest request becomes pinned; one other fails.
	claimed, err := e.db.ClaimPins(ctx, "worker", 2, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.FailPins(ctx, "worker", []string{claimed[0].ID}, "no provider found for 10m0s"); err != nil {
		t.Fatal(err)
	}
	if err := e.db.CompleteDAG(ctx, &tack.DAG{Key: last.Key, Blocks: 3, Bytes: 3 << 20}); err != nil {
		t.Fatal(err)
	}

	p := alice.get(t, "/dashboard")
	MustSee(t, "pins page", p, http.StatusOK, "60 requests", last.Pin.CID, "3.0 MiB", "requests ahead in the queue", "Older →", `data-refresh`)
	if n := strings.Count(p.body, `<td data-label="CID"`); n != 50 {
		t.Errorf("first page shows %d requests, want 50", n)
	}
	MustSee(t, "usage", p, http.StatusOK, `<span class="num">57</span><span class="label">queued</span>`, `<span class="num">1</span><span class="label">pinned</span>`, `<span class="num">1</span><span class="label">failed</span>`)

	older := regexp.MustCompile(`href="(/dashboard\?before=[^"]+)">Older`).FindStringSubmatch(p.body)
	if older == nil {
		t.Fatal("no link to older requests")
	}
	p = alice.get(t, strings.ReplaceAll(older[1], "&amp;", "&"))
	MustSee(t, "second page", p, http.StatusOK, "← Newest")
	if n := strings.Count(p.body, `<td data-label="CID"`); n != 10 {
		t.Errorf("second page shows %d requests, want 10", n)
	}
	if strings.Contains(p.body, "Older →") {
		t.Error("the last page links to older requests")
	}

	p = alice.get(t, "/dashboard?status=pinned")
	MustSee(t, "pinned only", p, http.StatusOK, "1 request matches", last.Pin.CID)
	if strings.Contains(p.body, "data-refresh") {
		t.Error("a page with nothing moving refreshes itself")
	}
	MustSee(t, "failed only", alice.get(t, "/dashboard?status=failed"), http.StatusOK, "1 request matches", "no provider found for 10m0s")
	p = alice.get(t, "/dashboard?name=BACKUP")
	MustSee(t, "name filter", p, http.StatusOK, "30 requests match")
	MustSee(t, "no match", alice.get(t, "/dashboard?name=nothing"), http.StatusOK, "No pin requests match.")

	MustSee(t, "bad status", alice.get(t, "/dashboard?status=lost"), http.StatusBadRequest, "Unknown status")
	MustSee(t, "bad page link", alice.get(t, "/dashboard?before=yesterday"), http.StatusBadRequest, "The page link is broken")
	MustSee(t, "long name", alice.get(t, "/dashboard?name="+strings.Repeat("n", 256)), http.StatusBadRequest, "longer than 255 bytes")

	// Another account sees none of them.
	bob := e.MustSignUp(t, "bob@example.com")
	MustSee(t, "another account", bob.get(t, "/dashboard"), http.StatusOK, "No pins yet.")
}

func TestWebBadForms(t *testing.T) {
	e := newWebEnv(t, nil)
	alice := e.MustSignUp(t, "alice@example.com")
	alice.get(t, "/tokens")
	MustSee(t, "oversized form", alice.post(t, "/access", url.Values{"what": {strings.Repeat("x", tackhttp.MaxBodyBytes)}}), http.StatusRequestEntityTooLarge, "The form is larger than 64 KiB.")
	req, _ := http.NewRequest("POST", e.url+"/tokens", strings.NewReader("%zz"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	MustSee(t, "malformed form", alice.send(t, req), http.StatusBadRequest, "The form could not be read")
	MustSee(t, "what too long", alice.post(t, "/access", url.Values{"what": {strings.Repeat("x", 2001)}, "volume": {"1 GB"}}), http.StatusBadRequest, "Say what you will pin")
}

func TestWebHeadersAndStatic(t *testing.T) {
	e := newWebEnv(t, nil)
	b := e.browser(t)
	p := b.get(t, "/signin")
	for k, want := range map[string]string{
		"Content-Type":           "text/html; charset=utf-8",
		"Cache-Control":          "no-store",
		"X-Frame-Options":        "DENY",
		"X-Content-Type-Options": "nosniff",
	} {
		if got := p.header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	for _, name := range []string{"tack.css", "tack.js"} {
		m := regexp.MustCompile(`/static/` + regexp.QuoteMeta(name) + `\?v=[0-9a-f]{12}`).FindString(p.body)
		if m == "" {
			t.Fatalf("page does not link %s with a version", name)
		}
		s := b.get(t, m)
		if s.status != http.StatusOK || len(s.body) < 100 {
			t.Errorf("%s: %d, %d bytes", m, s.status, len(s.body))
		}
	}
	MustSee(t, "unknown static file", b.get(t, "/static/nope.css"), http.StatusNotFound, "There is no such file.")
	MustSee(t, "static directory", b.get(t, "/static/"), http.StatusNotFound)
	// Unknown paths, and page paths with other methods, are still the
	// API's JSON 404.
	MustFailure(t, e.do(t, "PUT", "/tokens", "", ""), http.StatusNotFound, "NOT_FOUND")
	MustFailure(t, e.do(t, "GET", "/no-such-page", "", ""), http.StatusNotFound, "NOT_FOUND")
}

func TestWebChangePassword(t *testing.T) {
	e := newWebEnv(t, nil)
	alice := e.MustSignUp(t, "alice@example.com")
	other := e.browser(t)
	other.get(t, "/signin")
	MustRedirect(t, "second browser", other.post(t, "/signin", url.Values{"email": {"alice@example.com"}, "password": {"correct horse"}}), "/dashboard")

	alice.get(t, "/tokens")
	MustSee(t, "wrong current password", alice.post(t, "/password", url.Values{"current": {"wrong horse"}, "password": {"staple battery"}}), http.StatusUnauthorized, "Your current password is wrong.")
	MustSee(t, "short new password", alice.post(t, "/password", url.Values{"current": {"correct horse"}, "password": {"short"}}), http.StatusBadRequest, "at least 8 characters")
	MustRedirect(t, "change", alice.post(t, "/password", url.Values{"current": {"correct horse"}, "password": {"staple battery"}}), "/tokens?notice=password-changed")
	MustSee(t, "this browser stays signed in", alice.get(t, "/tokens?notice=password-changed"), http.StatusOK, "Your password was changed")
	MustRedirect(t, "the other browser is signed out", other.get(t, "/tokens"), "/signin?expired=1&next=%2Ftokens")
	other.get(t, "/signin?expired=1&next=%2Ftokens")
	MustSee(t, "old password", other.post(t, "/signin", url.Values{"email": {"alice@example.com"}, "password": {"correct horse"}}), http.StatusUnauthorized)
	MustRedirect(t, "new password", other.post(t, "/signin", url.Values{"email": {"alice@example.com"}, "password": {"staple battery"}}), "/dashboard")
}

func TestWebPasswordReset(t *testing.T) {
	e := newWebEnv(t, nil)
	op, _ := e.MustOperator(t, "op@example.com")
	alice := e.MustSignUp(t, "alice@example.com")
	acct := mustAccountByEmail(t, e, "alice@example.com")

	MustSee(t, "a non-operator making a link", alice.post(t, "/admin/accounts/"+itoa(acct.ID)+"/reset", nil), http.StatusForbidden)
	op.get(t, "/admin")
	p := op.post(t, "/admin/accounts/"+itoa(acct.ID)+"/reset", nil)
	MustSee(t, "reset link", p, http.StatusOK, "Password reset link for alice@example.com")
	link := mustLink(t, p, "/reset?code=")
	code, err := url.ParseQuery(strings.TrimPrefix(link, "/reset?"))
	if err != nil {
		t.Fatal(err)
	}

	b := e.browser(t)
	MustSee(t, "reset page", b.get(t, link), http.StatusOK, "Set a new password", `value="alice@example.com"`)
	MustSee(t, "short password", b.post(t, "/reset", url.Values{"code": {code.Get("code")}, "password": {"short"}}), http.StatusBadRequest, "at least 8 characters")
	MustSee(t, "made-up code", b.post(t, "/reset", url.Values{"code": {"made-up"}, "password": {"staple battery"}}), http.StatusNotFound, "This password reset link is not valid")
	MustRedirect(t, "reset", b.post(t, "/reset", url.Values{"code": {code.Get("code")}, "password": {"staple battery"}}), "/tokens?notice=password-changed")
	MustSee(t, "signed in with the new password", b.get(t, "/tokens?notice=password-changed"), http.StatusOK, "alice@example.com", "Your password was changed")
	MustRedirect(t, "the old session is gone", alice.get(t, "/tokens"), "/signin?expired=1&next=%2Ftokens")
	MustSee(t, "second use", e.browser(t).get(t, link), http.StatusNotFound, "This password reset link is not valid")

	c := e.browser(t)
	c.get(t, "/signin")
	MustSee(t, "old password", c.post(t, "/signin", url.Values{"email": {"alice@example.com"}, "password": {"correct horse"}}), http.StatusUnauthorized)
	MustRedirect(t, "new password", c.post(t, "/signin", url.Values{"email": {"alice@example.com"}, "password": {"staple battery"}}), "/dashboard")

	// A link expires after a day.
	p = op.post(t, "/admin/accounts/"+itoa(acct.ID)+"/reset", nil)
	link = mustLink(t, p, "/reset?code=")
	e.advance(tackhttp.DefaultResetTTL + time.Second)
	MustSee(t, "expired link", e.browser(t).get(t, link), http.StatusNotFound, "This password reset link is not valid")
	MustSee(t, "no link", e.browser(t).get(t, "/reset"), http.StatusNotFound)
}

func TestWebLimits(t *testing.T) {
	e := newWebEnv(t, func(w *tackhttp.Web) { w.Limits = tack.Limits{MaxPending: 100} })
	e.db.Limits = tack.Limits{MaxPending: 100}
	op, _ := e.MustOperator(t, "op@example.com")
	alice, acct, token := e.MustApprovedUser(t, "alice@example.com")
	limits := "/admin/accounts/" + itoa(acct.ID) + "/limits"

	op.get(t, "/admin")
	MustSee(t, "the defaults as placeholders", op.get(t, "/admin"), http.StatusOK, `placeholder="100"`, `placeholder="no limit"`)
	p := op.post(t, limits, url.Values{"max_pending": {"2"}, "max_bytes": {"1GiB"}})
	MustSee(t, "set limits", p, http.StatusOK, "Limits of alice@example.com saved.", `name="max_pending" inputmode="numeric" size="9" value="2"`, `value="1GiB"`)

	pin := func() response {
		c, _ := mustCID(t)
		return e.do(t, "POST", "/pins", token, `{"cid":"`+c+`"}`)
	}
	for range 2 {
		if resp := pin(); resp.status != http.StatusAccepted {
			t.Fatalf("pin under the limit: %d %s", resp.status, resp.body)
		}
	}
	details := MustFailure(t, pin(), http.StatusConflict, "INSUFFICIENT_FUNDS")
	if !strings.Contains(details, "2 pending requests") {
		t.Errorf("409 details %q: want the limit named", details)
	}
	MustSee(t, "the user's pins page", alice.get(t, "/dashboard"), http.StatusOK, "2 pending (queued or pinning) of at most 2", "storage limit 1.0 GiB", "stored of 1.0 GiB")

	for _, bad := range []url.Values{
		{"max_pending": {"many"}},
		{"max_pending": {"-1"}},
		{"max_bytes": {"lots"}},
		{"max_bytes": {"-5GB"}},
	} {
		MustSee(t, "bad limits "+bad.Encode(), op.post(t, limits, bad), http.StatusBadRequest, "Limits of alice@example.com", "Leave a field empty")
	}
	if a := mustAccountByEmail(t, e, "alice@example.com"); *a.MaxPending != 2 {
		t.Errorf("a refused form changed the limit to %d", *a.MaxPending)
	}
	// Empty fields return to the defaults; 0 lifts a limit.
	MustSee(t, "reset limits", op.post(t, limits, url.Values{"max_pending": {""}, "max_bytes": {"0"}}), http.StatusOK, "saved")
	if a := mustAccountByEmail(t, e, "alice@example.com"); a.MaxPending != nil || a.MaxBytes == nil || *a.MaxBytes != 0 {
		t.Errorf("after reset: %v %v", a.MaxPending, a.MaxBytes)
	}
	MustSee(t, "pins page after reset", alice.get(t, "/dashboard"), http.StatusOK, "2 pending (queued or pinning) of at most 100.")
	// Only operators set limits.
	alice.get(t, "/dashboard")
	MustSee(t, "a user setting limits", alice.post(t, limits, url.Values{"max_pending": {"0"}}), http.StatusForbidden)
}

func TestWebPurge(t *testing.T) {
	e := newWebEnv(t, nil)
	op, _ := e.MustOperator(t, "op@example.com")
	alice, acct, token := e.MustApprovedUser(t, "alice@example.com")
	for range 3 {
		c, _ := mustCID(t)
		if r := e.do(t, "POST", "/pins", token, `{"cid":"`+c+`"}`); r.status != http.StatusAccepted {
			t.Fatalf("pin: %d %s", r.status, r.body)
		}
	}
	purge := "/admin/accounts/" + itoa(acct.ID) + "/purge"
	op.get(t, "/admin")
	// The first press asks; nothing is deleted yet.
	MustSee(t, "asked to confirm", op.post(t, purge, nil), http.StatusOK, "Delete every pin request of alice@example.com?", "all 3 of its pin requests", `name="confirm" value="yes"`)
	if n := len(MustResults(t, e.do(t, "GET", "/pins?status=queued", token, "")).Results); n != 3 {
		t.Fatalf("%d requests after the question, want 3", n)
	}
	// A user cannot purge, not even their own account.
	alice.get(t, "/dashboard")
	MustSee(t, "a user purging", alice.post(t, purge, url.Values{"confirm": {"yes"}}), http.StatusForbidden)
	MustSee(t, "confirmed", op.post(t, purge, url.Values{"confirm": {"yes"}}), http.StatusOK, "Deleted 3 pin requests of alice@example.com.")
	if r := MustResults(t, e.do(t, "GET", "/pins?status=queued,pinning,pinned,failed", token, "")); r.Count != 0 {
		t.Errorf("%d requests after the purge", r.Count)
	}
}
