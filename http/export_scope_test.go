package http

import (
	"net/http"

	"github.com/tack-ipfs/tack"
)

// Authenticated is authenticated, for the test that a route added later
// gets the read-only rule without asking for it.
func (s *Server) Authenticated(h func(w http.ResponseWriter, r *http.Request, acct *tack.Account)) http.Handler {
	return s.authenticated(h)
}
