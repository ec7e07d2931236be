package http

import (
	"context"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/metrics"
)

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

// Web serves the web pages: sign-up and sign-in, the token management page
// with the request for pinning access, the operator's page and the pins
// page. Set its fields, then pass Mount to Server.Handler. The pages use
// session cookies; the API never does, so a page cannot be made to call it.
type Web struct {
	Store tack.Store
	// Issue creates an API token named name, of the given scope, for the
	// account (auth.Auth.IssueScoped).
	Issue func(ctx context.Context, accountID int64, name string, scope tack.Scope) (string, *tack.Token, error)
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
	Providing func() tack.ProvideStats
	// Pinner and GC return the pinner's and the garbage collections'
	// stats (Pinner.Stats, gc.Guard.Stats) for the operator's page, as
	// the metrics read them; nil leaves those figures off.
	Pinner func() tack.PinnerStats
	GC     func() tack.GCStats
	// Now returns the current time; nil means time.Now.
	Now tack.Clock
	// Logger receives internal errors. Nil discards them.
	Logger *slog.Logger
	// Metrics, if not nil, counts internal errors by source.
	Metrics *metrics.Metrics
	// Uploads, if not nil, is the API server whose CAR and file uploads
	// the pins page's Upload a CAR and Upload files forms share: the same
	// checks, limits and slots. Nil leaves the forms out.
	Uploads *Server
	// API, if not nil, is the API server whose pin routes the pins page's
	// forms share (Pin a CID, Replace, Remove): the same checks, refusals,
	// rate limit and notifier; the page per request shows its delegates.
	// Nil leaves the forms out.
	API *Server
	// GatewayURL is where browsers reach the gateway for browsers
	// (--gateway-url), without a trailing slash: pinned requests link to
	// GatewayURL/ipfs/{cid}/ there. Empty leaves those links out.
	GatewayURL string

	pages        map[string]*template.Template
	static       http.Handler
	staticSums   map[string]string
	signInLimits limiterSet
	hashSlots    chan struct{}
	fetches      fetchSamples // for the operator's page's fetch speed
	// crossOrigin refuses forms that a browser says came from another
	// site, before the CSRF token is even looked at.
	crossOrigin http.CrossOriginProtection
}

// Mount registers the pages' routes on mux. It panics if the embedded
// templates do not parse, which a test catches.
func (web *Web) Mount(mux *http.ServeMux) {
	if err := web.init(); err != nil {
		panic(err)
	}
	if web.Pinner != nil {
		// The first sample of the fetch speed.
		web.fetches.rate(web.now(), web.Pinner().FetchedBytes)
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
		mux.Handle("POST /dashboard/files", web.Uploads.uploadRoute(http.HandlerFunc(web.handleUploadFiles)))
	}
	mux.HandleFunc("GET /dashboard/pins/{requestid}", web.signedIn(web.handlePin))
	if web.API != nil {
		mux.HandleFunc("POST /dashboard/pins", web.form(web.signedIn(web.handlePinForm)))
		mux.HandleFunc("POST /dashboard/pins/{requestid}/replace", web.form(web.signedIn(web.handleReplaceForm)))
		mux.HandleFunc("POST /dashboard/pins/{requestid}/remove", web.form(web.signedIn(web.handleRemoveForm)))
	}
	mux.HandleFunc("GET /admin", web.signedIn(web.operator(web.handleAdmin)))
	mux.HandleFunc("POST /admin/accounts/{id}/access", web.form(web.signedIn(web.operator(web.handleDecideAccess))))
	mux.HandleFunc("POST /admin/accounts/{id}/block", web.form(web.signedIn(web.operator(web.handleBlock))))
	mux.HandleFunc("POST /admin/accounts/{id}/purge", web.form(web.signedIn(web.operator(web.handlePurge))))
	mux.HandleFunc("POST /admin/accounts/{id}/limits", web.form(web.signedIn(web.operator(web.handleSetLimits))))
	mux.HandleFunc("POST /admin/accounts/{id}/reset", web.form(web.signedIn(web.operator(web.handleCreateReset))))
	mux.HandleFunc("POST /admin/invites", web.form(web.signedIn(web.operator(web.handleCreateInvite))))
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

func (web *Web) signup() SignupMode {
	if web.Signup == "" {
		return SignupOpen
	}
	return web.Signup
}
