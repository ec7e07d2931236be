package http

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"

	"github.com/tack-ipfs/tack"
)

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
