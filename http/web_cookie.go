package http

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tack-ipfs/tack"
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

// validCSRF says whether the parsed form's csrf field is the CSRF token
// of r's browser and session.
func (web *Web) validCSRF(r *http.Request) bool {
	return web.csrfMatches(r, r.PostForm.Get("csrf"))
}

// csrfMatches says whether token is the CSRF token of r's browser and
// session (a multipart upload's, read before its body; validCSRF for a
// parsed form).
func (web *Web) csrfMatches(r *http.Request, token string) bool {
	c, err := web.cookie(r, csrfCookie)
	if err != nil || c.Value == "" {
		return false
	}
	session := ""
	if s, err := web.cookie(r, sessionCookie); err == nil {
		session = s.Value
	}
	return hmac.Equal([]byte(token), []byte(web.csrfFor(c.Value, session)))
}
