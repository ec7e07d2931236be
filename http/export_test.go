package http

import (
	"net/http"

	"github.com/tack-ipfs/tack"
)

// Waiting returns how many API requests wait for a slot (see MaxInFlight).
func (s *Server) Waiting() int { return int(s.inflight.waiting.Load()) }

// SafeNext is safeNext, for FuzzSafeNext.
func SafeNext(next string) string { return safeNext(next) }

// ClientAddr is the client address that web sees in r ("" if none).
func ClientAddr(web *Web, r *http.Request) string {
	if a := web.clientAddr(r); a.IsValid() {
		return a.String()
	}
	return ""
}

// ClientKey is the name of r's client in web's rate limits.
func ClientKey(web *Web, r *http.Request) string { return web.clientKey(r) }

var GroupDigits = groupDigits

// AllowSignIn is allowSignIn, for tests of the sign-in limits alone.
func AllowSignIn(web *Web, w http.ResponseWriter, r *http.Request, email string) error {
	return web.allowSignIn(w, r, email, nil)
}

// SignInBuckets returns how many sign-in and sign-up buckets web keeps.
func SignInBuckets(web *Web) int {
	web.signInLimits.mu.Lock()
	defer web.signInLimits.mu.Unlock()
	return len(web.signInLimits.m)
}

// MaxLimiters is maxLimiters.
const MaxLimiters = maxLimiters

// AppendPinPageJSON is appendPinPageJSON, for FuzzPinResultsJSON.
func AppendPinPageJSON(b []byte, count int, reqs []*tack.PinRequest, delegates []string) []byte {
	return appendPinPageJSON(b, count, reqs, delegates)
}

// PinStatusOf is pinStatus, for FuzzPinResultsJSON.
func PinStatusOf(r *tack.PinRequest, delegates []string) PinStatus { return pinStatus(r, delegates) }
