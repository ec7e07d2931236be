package http

import (
	"context"
	"net/http"
	"strings"

	"github.com/tack-ipfs/tack"
)

// accountHandler serves a request of an authenticated account that may pin.
type accountHandler func(w http.ResponseWriter, r *http.Request, acct *tack.Account)

// authenticated checks the Bearer token (401 if missing, malformed, unknown
// or revoked), the account's rate limit (429), whether it may pin (403:
// not blocked, with approved access), and whether the token may make this
// request (403: a read-only token may only read), in that order, then
// calls h. Cookies are never looked at: the API accepts only Bearer tokens.
//
// What a request may do with a read-only token is decided here, once, by
// its method (see writes), not by each route: a route added later is
// closed to read-only tokens unless it only reads.
func (s *Server) authenticated(h accountHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		acct, tok, err := s.authenticate(r.Context(), r.Header.Get("Authorization"))
		if err != nil {
			s.Error(w, r, err)
			return
		}
		if err := s.allow(w, acct.ID); err != nil {
			s.Error(w, r, err)
			return
		}
		if err := s.mayPin(acct); err != nil {
			s.Error(w, r, err)
			return
		}
		if writes(r) && !tok.Scope.CanWrite() {
			s.Error(w, r, tack.Errorf(tack.EFORBIDDEN, "this API token (%q) is read-only: it may list and get pin requests, but not %s %s; use a token with full scope", tok.Name, r.Method, r.URL.Path))
			return
		}
		h(w, r, acct)
	})
}

// writes reports whether a request may change anything: every method
// but GET and HEAD. A read-only token may make only the others.
func writes(r *http.Request) bool {
	return r.Method != http.MethodGet && r.Method != http.MethodHead
}

// authenticate returns the account of an Authorization header's Bearer
// token, and the token's record.
func (s *Server) authenticate(ctx context.Context, header string) (*tack.Account, *tack.Token, error) {
	if header == "" {
		return nil, nil, tack.Errorf(tack.EUNAUTHORIZED, "missing API token: send it as Authorization: Bearer <token>")
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, nil, tack.Errorf(tack.EUNAUTHORIZED, "malformed Authorization header: send the API token as Authorization: Bearer <token>")
	}
	acct, tok, err := s.Auth.Authenticate(ctx, token)
	if err != nil {
		return nil, nil, err
	}
	if acct == nil || tok == nil {
		return nil, nil, tack.Errorf(tack.EUNAUTHORIZED, "invalid API token")
	}
	return acct, tok, nil
}

// mayPin returns nil if the account may pin, or else the 403 of
// forbidden: a blocked account, or one without approved pinning access.
func (s *Server) mayPin(acct *tack.Account) error {
	if acct.Blocked || acct.Access != tack.AccessApproved {
		return s.forbidden(acct)
	}
	return nil
}

// forbidden is the error for an account that may not pin: a blocked one,
// or one without approved pinning access, whose details name the page
// where access is requested: a Kubo user sees only the error's details,
// and learns from them where to go.
func (s *Server) forbidden(acct *tack.Account) error {
	if acct.Blocked {
		return tack.Errorf(tack.EFORBIDDEN, "this account is blocked by the operator of this service")
	}
	url := s.AccessURL
	if url == "" {
		url = "the operator of this service"
	}
	switch acct.Access {
	case tack.AccessRequested:
		return tack.Errorf(tack.EFORBIDDEN, "this account's request for pinning access is waiting for approval (see %s)", url)
	case tack.AccessDenied:
		return tack.Errorf(tack.EFORBIDDEN, "this account's request for pinning access was denied (see %s)", url)
	}
	return tack.Errorf(tack.EFORBIDDEN, "this account has no pinning access yet: request API pinning access at %s", url)
}
