package http

import "net/http"

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
