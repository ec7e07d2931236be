package http

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/metrics"
	"github.com/tack-ipfs/tack/node"
)

//go:embed templates static
var webFiles embed.FS

// SignupMode is who may create an account on the web pages.
type SignupMode string

// The sign-up modes of `tack serve --signup`.
const (
	SignupOpen   SignupMode = "open"   // anyone
	SignupInvite SignupMode = "invite" // whoever holds an operator's invitation link
	SignupClosed SignupMode = "closed" // nobody: the operator makes accounts with the CLI
)

// ParseSignupMode returns the mode named s, or an error naming the choices.
func ParseSignupMode(s string) (SignupMode, error) {
	switch m := SignupMode(s); m {
	case SignupOpen, SignupInvite, SignupClosed:
		return m, nil
	}
	return "", fmt.Errorf("unknown sign-up mode %q: use open, invite or closed", s)
}

// Defaults of Web.
const (
	DefaultSessionTTL = 30 * 24 * time.Hour
	DefaultInviteTTL  = 7 * 24 * time.Hour
	DefaultResetTTL   = 24 * time.Hour
	// MinPasswordLength and MaxPasswordLength bound a new password.
	MinPasswordLength = 8
	MaxPasswordLength = 256
)

// Cookie names. The session cookie holds the session's secret; the CSRF
// cookie holds a random value that every form's CSRF token is derived from;
// the device cookie (web_signin_limit.go) marks a browser that signed in
// before. Over https each name is sent with the __Host- prefix (see
// cookieName).
const (
	sessionCookie = "tack_session"
	csrfCookie    = "tack_csrf"
)

// hostPrefix is the prefix of the cookies' names over https: a browser
// keeps a cookie whose name has it only if it was set by an https page of
// this very host, Secure, with Path=/ and no Domain (RFC 6265bis 4.1.3.2),
// so no page of another host, not even of a parent or sibling domain or
// of plain http, can set or overwrite one (cookie tossing).
const hostPrefix = "__Host-"

// Web serves the web pages: sign-up and sign-in, the token management page
// with the request for pinning access, the operator's page and the pins
// page. Set its fields, then pass Mount to Server.Handler. The pages use
// session cookies; the API never does, so a page cannot be made to call it.
type Web struct {
	Store tack.Store
	// Issue creates an API token named name for the account.
	Issue func(ctx context.Context, accountID int64, name string) (string, *tack.Token, error)
	// HashPassword and CheckPassword hash passwords and check them against
	// a hash.
	HashPassword  func(password string) (string, error)
	CheckPassword func(hash, password string) (bool, error)
	// Key is the secret that CSRF tokens are derived from (32 bytes or more).
	Key []byte
	// PublicURL is the service's address as users reach it, without a
	// trailing slash. An https URL makes the cookies Secure.
	PublicURL string
	// Signup says who may create an account. Empty means SignupOpen.
	Signup SignupMode
	// AutoApprove approves every account's pinning access at once.
	AutoApprove bool
	// Limits are the limits of accounts without their own, shown on the
	// pins page and the operator's page.
	Limits tack.Limits
	// SessionTTL is how long a sign-in lasts; zero means DefaultSessionTTL.
	SessionTTL time.Duration
	// SignInLimit limits sign-in and sign-up attempts per email and per
	// client address. Zero means 10 a minute with bursts of 10.
	SignInLimit RateLimit
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client (see clientAddr). Empty: the header is ignored, and the
	// client is the address the connection comes from.
	TrustedProxies []netip.Prefix
	// Providing returns the node's state of providing on the DHT for the
	// operator's page (Node.ProvideStats); nil leaves it off the page.
	Providing func() node.ProvideStats
	// Now returns the current time; nil means time.Now.
	Now tack.Clock
	// Logger receives internal errors. Nil discards them.
	Logger *slog.Logger
	// Metrics, if not nil, counts internal errors by source.
	Metrics *metrics.Metrics
	// Uploads, if not nil, is the API server whose CAR uploads the pins
	// page's Upload a CAR form shares: the same checks, limits and slots.
	// Nil leaves the form out.
	Uploads *Server

	pages        map[string]*template.Template
	static       http.Handler
	staticSums   map[string]string
	signInLimits limiterSet
	hashSlots    chan struct{}
	// crossOrigin refuses forms that a browser says came from another
	// site, before the CSRF token is even looked at.
	crossOrigin http.CrossOriginProtection
}

// webPages are the templates under templates/ that are whole pages; each
// is parsed together with layout.html.
var webPages = []string{"signin", "signup", "reset", "tokens", "access", "admin", "pins", "error"}

// Mount registers the pages' routes on mux. It panics if the embedded
// templates do not parse, which a test catches.
func (web *Web) Mount(mux *http.ServeMux) {
	if err := web.init(); err != nil {
		panic(err)
	}
	mux.HandleFunc("GET /{$}", web.handleHome)
	mux.Handle("GET /static/", web.static)
	mux.HandleFunc("GET /signin", web.handleSignInPage)
	mux.HandleFunc("POST /signin", web.form(web.handleSignIn))
	mux.HandleFunc("GET /signup", web.handleSignUpPage)
	mux.HandleFunc("POST /signup", web.form(web.handleSignUp))
	mux.HandleFunc("POST /signout", web.form(web.handleSignOut))
	mux.HandleFunc("GET /reset", web.handleResetPage)
	mux.HandleFunc("POST /reset", web.form(web.handleReset))
	mux.HandleFunc("GET /tokens", web.signedIn(web.handleTokens))
	mux.HandleFunc("POST /tokens", web.form(web.signedIn(web.handleCreateToken)))
	mux.HandleFunc("POST /tokens/{id}/revoke", web.form(web.signedIn(web.handleRevokeToken)))
	mux.HandleFunc("POST /password", web.form(web.signedIn(web.handleChangePassword)))
	mux.HandleFunc("GET /access", web.signedIn(web.handleAccessPage))
	mux.HandleFunc("POST /access", web.form(web.signedIn(web.handleRequestAccess)))
	mux.HandleFunc("GET /dashboard", web.signedIn(web.handlePins))
	if web.Uploads != nil {
		mux.Handle("POST /dashboard/car", web.Uploads.uploadRoute(http.HandlerFunc(web.handleUploadCAR)))
	}
	mux.HandleFunc("GET /admin", web.signedIn(web.operator(web.handleAdmin)))
	mux.HandleFunc("POST /admin/accounts/{id}/access", web.form(web.signedIn(web.operator(web.handleDecideAccess))))
	mux.HandleFunc("POST /admin/accounts/{id}/block", web.form(web.signedIn(web.operator(web.handleBlock))))
	mux.HandleFunc("POST /admin/accounts/{id}/purge", web.form(web.signedIn(web.operator(web.handlePurge))))
	mux.HandleFunc("POST /admin/accounts/{id}/limits", web.form(web.signedIn(web.operator(web.handleSetLimits))))
	mux.HandleFunc("POST /admin/accounts/{id}/reset", web.form(web.signedIn(web.operator(web.handleCreateReset))))
	mux.HandleFunc("POST /admin/invites", web.form(web.signedIn(web.operator(web.handleCreateInvite))))
}

func (web *Web) init() error {
	funcs := template.FuncMap{
		"static":   func(name string) string { return "/static/" + name + "?v=" + web.staticSums[name] },
		"when":     formatWhen,
		"bytes":    formatBytes,
		"group":    groupDigits,
		"duration": formatDuration,
		"limit": func(n int64) string {
			if n == 0 {
				return "no limit"
			}
			return strconv.FormatInt(n, 10)
		},
		"limitBytes": func(n int64) string {
			if n == 0 {
				return "no limit"
			}
			return exactBytes(n)
		},
		"own": func(n *int64, bytes bool) string {
			switch {
			case n == nil:
				return ""
			case bytes:
				return exactBytes(*n)
			}
			return strconv.FormatInt(*n, 10)
		},
		"lower": strings.ToLower,
	}
	web.pages = map[string]*template.Template{}
	for _, name := range webPages {
		t, err := template.New(name).Funcs(funcs).ParseFS(webFiles, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return fmt.Errorf("web page %s: %w", name, err)
		}
		web.pages[name] = t
	}
	static, err := fs.Sub(webFiles, "static")
	if err != nil {
		return err
	}
	web.staticSums = map[string]string{}
	entries, err := fs.ReadDir(static, ".")
	if err != nil {
		return err
	}
	for _, e := range entries {
		b, err := fs.ReadFile(static, e.Name())
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		web.staticSums[e.Name()] = hex.EncodeToString(sum[:6])
	}
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	web.static = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := web.staticSums[strings.TrimPrefix(r.URL.Path, "/static/")]; !ok {
			web.fail(w, r, nil, tack.Errorf(tack.ENOTFOUND, "There is no such file."))
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
	// Hashing a password takes 19 MiB and tens of milliseconds: a few at a
	// time keep a burst of sign-ins from exhausting memory.
	web.hashSlots = make(chan struct{}, 4)
	return nil
}

func (web *Web) now() time.Time {
	if web.Now == nil {
		return time.Now()
	}
	return web.Now()
}

func (web *Web) logger() *slog.Logger {
	if web.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return web.Logger
}

// page is what every template gets: the layout's parts, and the page's own
// data in Data.
type page struct {
	Title   string
	Account *tack.Account // nil when signed out
	CSRF    string
	Notice  string
	Error   string
	Refresh bool // the pins page refreshes itself while requests are moving
	Signup  SignupMode
	Data    any
}

// render writes a page with the given status. Pages are never cached: some
// show a token once.
func (web *Web) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	t := web.pages[name]
	if p.CSRF == "" {
		p.CSRF = web.csrfToken(w, r)
	}
	if p.Signup == "" {
		p.Signup = web.signup()
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout", p); err != nil {
		web.logger().Error("rendering page", "page", name, "err", err)
		status = http.StatusInternalServerError
		b.Reset()
		b.WriteString("<!doctype html><title>tack</title><p>Something went wrong on our side. Please try again.</p>")
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	w.Write([]byte(b.String()))
}

// fail renders the error page. Internal errors are logged and shown only
// as "something went wrong".
func (web *Web) fail(w http.ResponseWriter, r *http.Request, acct *tack.Account, err error) {
	closeUnreadBody(w, r)
	status, _ := ErrorStatus(tack.ErrorCode(err))
	msg := tack.ErrorMessage(err)
	if status == http.StatusInternalServerError {
		web.logger().Error("web page", "method", r.Method, "path", r.URL.Path, "err", err)
		web.Metrics.Error(errorSource(err))
		msg = "Something went wrong on our side. Please try again in a moment."
	}
	web.render(w, r, status, "error", &page{Title: http.StatusText(status), Account: acct, Error: msg})
}

func (web *Web) signup() SignupMode {
	if web.Signup == "" {
		return SignupOpen
	}
	return web.Signup
}

func (web *Web) secureCookies() bool { return strings.HasPrefix(web.PublicURL, "https://") }

// cookieName is the name a cookie is set and read under: with the
// __Host- prefix over https. Over plain http (local use) the name has no
// prefix, since a __Host- cookie must be Secure and browsers refuse
// Secure cookies from http pages; there, keeping every other site's pages
// off this host is what protects the cookies (tack serve refuses a
// gateway that shares the web pages' site).
func (web *Web) cookieName(name string) string {
	if web.secureCookies() {
		return hostPrefix + name
	}
	return name
}

// cookie returns the request's cookie of that name (see cookieName).
// Under https, a cookie without the prefix is ignored: another host may
// have set it.
func (web *Web) cookie(r *http.Request, name string) (*http.Cookie, error) {
	return r.Cookie(web.cookieName(name))
}

// setCookie sets the cookie of that name (see cookieName): HttpOnly,
// SameSite=Lax, Path=/ and no Domain, so that only this host gets it, and
// Secure over https. An empty value deletes it.
func (web *Web) setCookie(w http.ResponseWriter, name, value string, expires time.Time) {
	c := &http.Cookie{
		Name:     web.cookieName(name),
		Value:    value,
		Path:     "/",
		HttpOnly: true,
		Secure:   web.secureCookies(),
		SameSite: http.SameSiteLaxMode,
	}
	if value == "" {
		c.MaxAge = -1
	} else if !expires.IsZero() {
		c.Expires = expires
	}
	http.SetCookie(w, c)
}

// randomSecret returns 32 random bytes, base64url-encoded.
func randomSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashSecret is the ID under which stores keep a session or an invitation:
// the hex SHA-256 of its secret.
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// csrfToken returns the CSRF token that this browser's forms must carry,
// setting the CSRF cookie if the browser has none. The token is an HMAC of
// the cookie and the session, so a token works only with both.
func (web *Web) csrfToken(w http.ResponseWriter, r *http.Request) string {
	value := ""
	if c, err := web.cookie(r, csrfCookie); err == nil && len(c.Value) >= 32 {
		value = c.Value
	} else {
		value = randomSecret()
		web.setCookie(w, csrfCookie, value, time.Time{})
		// The rest of this request (a form rendered after a failed POST)
		// must see the new value.
		r.AddCookie(&http.Cookie{Name: web.cookieName(csrfCookie), Value: value})
	}
	session := ""
	if c, err := web.cookie(r, sessionCookie); err == nil {
		session = c.Value
	}
	return web.csrfFor(value, session)
}

func (web *Web) csrfFor(cookie, session string) string {
	mac := hmac.New(sha256.New, web.Key)
	fmt.Fprintf(mac, "tack csrf\x00%s\x00%s", cookie, session)
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// form wraps the handler of a form's POST: it limits the body, parses the
// form and checks its CSRF token; a missing or wrong one, or a browser's
// word that the form came from another site, gets 403.
func (web *Web) form(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		if err := r.ParseForm(); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				web.fail(w, r, nil, tack.Errorf(tack.ETOOLARGE, "The form is larger than %d KiB.", MaxBodyBytes>>10))
				return
			}
			if tack.ErrorCode(err) == tack.ETIMEOUT {
				web.fail(w, r, nil, tack.Errorf(tack.ETIMEOUT, "The form took too long to arrive. Go back and send it again."))
				return
			}
			web.fail(w, r, nil, tack.Errorf(tack.EINVALID, "The form could not be read: %v.", err))
			return
		}
		if web.crossOrigin.Check(r) != nil || !web.validCSRF(r) {
			web.fail(w, r, nil, tack.Errorf(tack.EFORBIDDEN, "This form has expired or was sent from another site. Go back, reload the page and try again."))
			return
		}
		h(w, r)
	}
}

func (web *Web) validCSRF(r *http.Request) bool {
	c, err := web.cookie(r, csrfCookie)
	if err != nil || c.Value == "" {
		return false
	}
	session := ""
	if s, err := web.cookie(r, sessionCookie); err == nil {
		session = s.Value
	}
	want := web.csrfFor(c.Value, session)
	return hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(want))
}

// signedInHandler serves a page for a signed-in account.
type signedInHandler func(w http.ResponseWriter, r *http.Request, acct *tack.Account)

// signedIn calls h with the session's account, or sends the browser to the
// sign-in page (and back here afterwards) if there is no valid session.
func (web *Web) signedIn(h signedInHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		acct, err := web.sessionAccount(r.Context(), r)
		if err != nil {
			web.fail(w, r, nil, err)
			return
		}
		if acct == nil {
			next := r.URL.Path
			if r.Method == http.MethodGet && r.URL.RawQuery != "" {
				next += "?" + r.URL.RawQuery
			}
			if r.Method != http.MethodGet {
				next = "/tokens"
			}
			http.Redirect(w, r, "/signin?expired=1&next="+url.QueryEscape(next), http.StatusSeeOther)
			return
		}
		h(w, r, acct)
	}
}

// operator lets only operators (admin accounts) through; others get 403.
func (web *Web) operator(h signedInHandler) signedInHandler {
	return func(w http.ResponseWriter, r *http.Request, acct *tack.Account) {
		if !acct.Admin {
			web.fail(w, r, acct, tack.Errorf(tack.EFORBIDDEN, "Only the operators of this service may see this page."))
			return
		}
		h(w, r, acct)
	}
}

// sessionAccount returns the account of the request's session cookie, or
// nil if there is none, it expired, or the account is blocked.
func (web *Web) sessionAccount(ctx context.Context, r *http.Request) (*tack.Account, error) {
	c, err := web.cookie(r, sessionCookie)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	id := hashSecret(c.Value)
	s, err := web.Store.FindSession(ctx, id)
	if tack.ErrorCode(err) == tack.ENOTFOUND {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if !web.now().Before(s.Expires) {
		if err := web.Store.DeleteSession(ctx, id); err != nil {
			return nil, err
		}
		return nil, nil
	}
	acct, err := web.Store.FindAccountByID(ctx, s.AccountID)
	if tack.ErrorCode(err) == tack.ENOTFOUND {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if acct.Blocked {
		return nil, nil
	}
	return acct, nil
}

// startSession signs the account in: a new session, its cookie, the
// browser's device cookie (see allowSignIn), and a redirect to next. The browser's previous session, if any, is deleted.
func (web *Web) startSession(w http.ResponseWriter, r *http.Request, acct *tack.Account, next string) {
	ttl := web.SessionTTL
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	// A session this browser had before (another account's, say) ends.
	if c, err := web.cookie(r, sessionCookie); err == nil && c.Value != "" {
		if err := web.Store.DeleteSession(r.Context(), hashSecret(c.Value)); err != nil {
			web.fail(w, r, nil, err)
			return
		}
	}
	secret := randomSecret()
	s := &tack.Session{ID: hashSecret(secret), AccountID: acct.ID, Expires: web.now().Add(ttl)}
	if err := web.Store.CreateSession(r.Context(), s); err != nil {
		web.fail(w, r, nil, err)
		return
	}
	web.setCookie(w, sessionCookie, secret, s.Expires)
	web.markDevice(w, r, acct)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// nextPages are the pages a sign-in may send the browser back to: those
// that signedIn sends a signed-out browser away from.
var nextPages = map[string]bool{"/tokens": true, "/access": true, "/dashboard": true, "/admin": true}

// maxNext bounds the length of a next= that safeNext accepts.
const maxNext = 2048

// safeNext returns next if it is one of nextPages, exactly, optionally
// followed by a query; anything else gives "". Matching the path exactly
// refuses, without having to list them, every form that a browser or
// http.Redirect would turn into another site's address: schemes, "//",
// backslashes ("/\evil" is "//evil" to a browser), dot segments (which
// http.Redirect cleans away: "/a/../\evil" becomes "/\evil") and
// percent-encoded slashes, backslashes and dots. The query may hold only
// the characters a query is made of, and no backslash, control character
// or escape of one, so that nothing in it can end the header or the path.
func safeNext(next string) string {
	if len(next) > maxNext {
		return ""
	}
	path, query, hasQuery := strings.Cut(next, "?")
	if !nextPages[path] || (hasQuery && !safeQuery(query)) {
		return ""
	}
	return next
}

// safeQuery says whether q is made only of a query's characters (RFC 3986:
// unreserved, sub-delims, ":", "@", "/" and "?") and of percent escapes,
// none of which is a backslash or a control character.
func safeQuery(q string) bool {
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,;=:@/?", c) >= 0:
		case c == '%':
			if i+2 >= len(q) || !ishex(q[i+1]) || !ishex(q[i+2]) {
				return false
			}
			b, _ := strconv.ParseUint(q[i+1:i+3], 16, 8)
			if b < 0x20 || b == 0x7f || b == '\\' {
				return false
			}
			i += 2
		default:
			return false
		}
	}
	return true
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// formatWhen formats a time for the pages: UTC, to the minute, or "never".
func formatWhen(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// groupDigits writes n with a comma between groups of three digits.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	start := 0
	if n < 0 {
		start = 1
	}
	for i := len(s) - 3; i > start; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// exactBytes writes n in the largest unit that divides it, in the form
// tack.ParseSize reads back: 2GiB, 500GB, 1234B.
func exactBytes(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"TiB", 1 << 40}, {"TB", 1e12}, {"GiB", 1 << 30}, {"GB", 1e9}, {"MiB", 1 << 20}, {"MB", 1e6}, {"KiB", 1 << 10}, {"KB", 1e3}} {
		if n != 0 && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

// formatBytes formats a size in bytes with binary units.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
