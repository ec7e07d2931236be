// Package http serves tack over HTTP: the IPFS Pinning Service API at /pins
// (https://ipfs.github.io/pinning-services-api-spec/), with its Bearer token
// authentication, per-account rate limits and load shedding; CAR uploads at
// POST /car and file uploads at POST /files, and both from the pins page,
// which it admits (their own slots, the account's share, the body's
// deadline and size) and hands to a tack.CARImporter or a
// tack.FileImporter; the web pages; the operators' /healthz, /readyz and
// /metrics; and the one map from tack's error codes to HTTP statuses and
// error bodies.
package http

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/metrics"
)

// MaxBodyBytes is the largest request body that POST /pins and
// POST /pins/{requestid} accept; a larger one gets 413.
const MaxBodyBytes = 64 << 10

// DefaultBodyTimeout is the default Server.BodyTimeout: 64 KiB take 30
// seconds at about 2 KiB/s.
const DefaultBodyTimeout = 30 * time.Second

// Server serves the Pinning Service API. Set its fields, then serve
// Handler(). A Server must not be copied after first use.
type Server struct {
	// Store keeps accounts, tokens and pin requests.
	Store tack.Store
	// Auth turns Bearer tokens into accounts.
	Auth tack.Authenticator
	// Delegates returns the node's delegates: multiaddrs ending in
	// /p2p/<peerID>, 1 to 20 of them. At most 20 are sent.
	Delegates func() []string
	// Notifier, if not nil, is told when a request is queued or removed.
	Notifier tack.Notifier

	// QueueNote, if not nil, says why this node fetches no queued request
	// now ("" when it does), for queued requests' status_details: the
	// pinner's Waiting.
	QueueNote func() string
	// AccessURL is the page where an account requests pinning access. The
	// 403 of an account without approved access names it.
	AccessURL string
	// Logger receives internal errors and recovered panics. Nil discards them.
	Logger *slog.Logger
	// RateLimit limits each account's requests. The zero value applies
	// DefaultRate and DefaultBurst.
	RateLimit RateLimit
	// MaxInFlight is how many API requests are served at once; more wait
	// up to QueueWait for a slot, then get 503 with Retry-After. Zero means
	// DefaultMaxInFlight.
	MaxInFlight int
	// QueueWait is how long a request waits for a slot. Zero means
	// DefaultQueueWait.
	QueueWait time.Duration
	// BodyTimeout is how long a request's body may take to arrive, from
	// when its headers have: a body still arriving then gets 408 and the
	// connection is closed, so that clients sending a byte now and then
	// cannot hold connections. It covers every route, the web pages' too;
	// a route that takes larger bodies sets its own deadline with
	// http.ResponseController.SetReadDeadline. Zero means
	// DefaultBodyTimeout.
	BodyTimeout time.Duration

	// Importer stores the CARs of POST /car and of the pins page's form
	// (upload.Importer). Nil refuses uploads with 503.
	Importer tack.CARImporter
	// Files stores the files and folders of POST /files and of the pins
	// page's file form as UnixFS DAGs (unixfsimport.Importer). Nil
	// refuses them with 503.
	Files tack.FileImporter
	// MaxUpload caps the bytes of one upload: 413 past it. Zero means
	// DefaultMaxUpload.
	MaxUpload int64
	// MaxUploads is how many uploads are served at once, apart from
	// MaxInFlight; more get 503 with Retry-After. One account may have
	// half of them (at least one); more get 429. Zero means
	// DefaultMaxUploads.
	MaxUploads int
	// UploadIdle is how long an upload's body may go without
	// UploadMinProgress bytes arriving before it gets 408. Zero means
	// DefaultUploadIdle.
	UploadIdle time.Duration
	// Stop, once done, ends the uploads in progress (tack shutting down
	// after its drain time): an upload not yet answered gets 503
	// SERVICE_UNAVAILABLE with Retry-After, and nothing of it is kept, as
	// for any upload that fails. Later uploads get the same 503 at once.
	// Nil: uploads are never stopped.
	Stop context.Context

	// Metrics, if not nil, counts requests by route and status, uploads
	// and internal errors.
	Metrics *metrics.Metrics
	// MetricsHandler, if not nil, is served at GET /metrics to operators'
	// (admin accounts') Bearer tokens only.
	MetricsHandler http.Handler
	// Readiness is what GET /readyz checks. GET /healthz answers 200 "ok"
	// as long as the process serves.
	Readiness Readiness

	ready    readyCache
	limiters limiterSet
	inflight *inflight
	uploads  chan struct{} // MaxUploads slots

	uploadsMu      sync.Mutex
	accountUploads map[int64]int // uploads in progress, by account

	// pages holds the buffers (*[]byte) that GET /pins writes its pages
	// into: a page of 1,000 is 400 kB, a third of what one allocated,
	// and the GC ran that much more often under a listing a second.
	pages sync.Pool
}

// Handler returns the HTTP handler of the API: the five /pins routes, a JSON
// 404 for unknown paths and a JSON 405 for wrong methods, all behind panic
// recovery and BodyTimeout. Each mount function, if given, registers more routes on the same
// mux (the web pages): Go 1.22 pattern precedence lets patterns such as
// "GET /{$}" or "GET /tokens" coexist with the catch-all 404 on "/".
//
// POST /car, the CAR upload, and POST /files, the upload of files and
// folders, have MaxUploads slots of their own.
//
// Only the five routes count against MaxInFlight: the 404s and 405s cost
// nothing, and the web pages are for people, who would get a JSON 503 and
// whose heavy pages are behind a sign-in; an operator can still reach
// them while the API sheds load.
func (s *Server) Handler(mount ...func(mux *http.ServeMux)) http.Handler {
	s.inflight = newInflight(s.MaxInFlight, s.QueueWait)
	if s.MaxUploads <= 0 {
		s.MaxUploads = DefaultMaxUploads
	}
	s.uploads = make(chan struct{}, s.MaxUploads)
	api := func(h accountHandler) http.Handler { return s.inflight.shed(s, s.authenticated(h)) }
	mux := http.NewServeMux()
	mux.Handle("GET /pins", api(s.handleListPins))
	mux.Handle("POST /pins", api(s.handleCreatePin))
	mux.Handle("GET /pins/{requestid}", api(s.handleGetPin))
	mux.Handle("POST /pins/{requestid}", api(s.handleReplacePin))
	mux.Handle("DELETE /pins/{requestid}", api(s.handleDeletePin))
	mux.Handle("POST /car", s.uploadRoute(s.authenticated(s.handleUploadCAR)))
	mux.Handle("/car", s.methodNotAllowed("POST"))
	mux.Handle("POST /files", s.uploadRoute(s.authenticated(s.handleUploadFiles)))
	mux.Handle("/files", s.methodNotAllowed("POST"))
	// The method-less patterns are less specific than the ones above, so
	// they only see the methods that the API does not serve.
	mux.Handle("/pins", s.methodNotAllowed("GET, HEAD, POST"))
	mux.Handle("/pins/{requestid}", s.methodNotAllowed("GET, HEAD, POST, DELETE"))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeFailure(w, r, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	s.mountOps(mux)
	for _, m := range mount {
		m(mux)
	}
	return s.recoverPanics(s.bodyDeadline(s.Metrics.HTTP(mux)))
}

// OutageRetryAfter is the Retry-After, in seconds, of the 503 that an
// outage gives: a PostgreSQL restart or a bucket's hiccup lasts seconds,
// and clients that all came back every second would only add load.
const OutageRetryAfter = "5"

// Failure is the Pinning Service API's error body.
type Failure struct {
	Error FailureError `json:"error"`
}

// FailureError is the content of a Failure.
type FailureError struct {
	Reason  string `json:"reason"`
	Details string `json:"details,omitempty"`
}

// errorStatus is the one map from tack's error codes to the HTTP status and
// the `reason` of the error body.
var errorStatus = map[string]struct {
	status int
	reason string
}{
	tack.EINVALID:      {http.StatusBadRequest, "BAD_REQUEST"},
	tack.EUNAUTHORIZED: {http.StatusUnauthorized, "UNAUTHORIZED"},
	tack.EFORBIDDEN:    {http.StatusForbidden, "PINNING_NOT_AUTHORIZED"},
	tack.ENOTFOUND:     {http.StatusNotFound, "NOT_FOUND"},
	tack.ECONFLICT:     {http.StatusConflict, "CONFLICT"},
	tack.EQUOTA:        {http.StatusConflict, "INSUFFICIENT_FUNDS"},
	tack.ETOOLARGE:     {http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE"},
	tack.ETIMEOUT:      {http.StatusRequestTimeout, "REQUEST_TIMEOUT"},
	tack.ERATELIMITED:  {http.StatusTooManyRequests, "TOO_MANY_REQUESTS"},
	tack.EUNAVAILABLE:  {http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE"},
	tack.EINTERNAL:     {http.StatusInternalServerError, "INTERNAL_SERVER_ERROR"},
}

// ErrorStatus returns the HTTP status and the error body's reason for a tack
// error code. Unknown codes are internal errors: 500 INTERNAL_SERVER_ERROR.
func ErrorStatus(code string) (status int, reason string) {
	if e, ok := errorStatus[code]; ok {
		return e.status, e.reason
	}
	return http.StatusInternalServerError, "INTERNAL_SERVER_ERROR"
}

// Error writes err as a Failure with the status of its code. Internal errors
// are logged and shown only as "internal error". An outage (tack.IsOutage:
// the metadata store, the block store or the data disk) is a 503 whose
// details name the part, logged and counted like an internal error. A 429
// or a 503 always carries a Retry-After header (OutageRetryAfter for an
// outage, else 1 second, unless the caller set one).
func (s *Server) Error(w http.ResponseWriter, r *http.Request, err error) {
	code := tack.ErrorCode(err)
	status, reason := ErrorStatus(code)
	details := tack.ErrorMessage(err)
	if status == http.StatusInternalServerError {
		// A client that went away cancels the request's store calls: that
		// is no fault of the server's, and nobody reads the answer.
		if r.Context().Err() == nil {
			s.logger().Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
			if !errors.As(err, new(panicError)) {
				s.Metrics.Error(errorSource(err))
			}
		}
		details = "internal error"
	} else if tack.IsOutage(err) && r.Context().Err() == nil {
		// A part tack stands on is down: the client is told which and to
		// retry; the operator gets the fault, counted by its source.
		s.logger().Warn("unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		s.Metrics.Error(errorSource(err))
	}
	if tack.IsOutage(err) && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", OutageRetryAfter)
	}
	switch status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		if w.Header().Get("Retry-After") == "" {
			w.Header().Set("Retry-After", "1")
		}
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="tack"`)
	}
	s.writeFailure(w, r, status, reason, details)
}

func (s *Server) writeFailure(w http.ResponseWriter, r *http.Request, status int, reason, details string) {
	closeUnreadBody(w, r)
	s.writeJSON(w, r, status, Failure{Error: FailureError{Reason: reason, Details: details}})
}

// writeJSON writes v as the JSON body of a response with the given status.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.logger().Error("encoding response", "method", r.Method, "path", r.URL.Path, "err", err)
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"reason":"INTERNAL_SERVER_ERROR","details":"internal error"}}`)
	}
	writeJSONBody(w, status, append(b, '\n'))
}

// writeJSONBody writes status and b, JSON that ends in a newline.
func writeJSONBody(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(b)
}

func (s *Server) methodNotAllowed(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		s.writeFailure(w, r, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED",
			fmt.Sprintf("method %s is not allowed on %s: use %s", r.Method, r.URL.Path, allow))
	})
}

// recoverPanics turns a panic in h into a 500 in the error format, if the
// response has not started yet, and logs it.
func (s *Server) recoverPanics(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &responseWriter{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.logger().Error("panic in handler", "method", r.Method, "path", r.URL.Path, "panic", v)
			if rw.wroteHeader {
				panic(http.ErrAbortHandler) // too late for an error body: cut the connection
			}
			h := w.Header()
			for k := range h {
				delete(h, k)
			}
			s.Error(w, r, panicError{v})
		}()
		h.ServeHTTP(rw, r)
	})
}

// panicError is a panic recovered in a handler: an internal error, but
// neither the store's nor the blockstore's.
type panicError struct{ v any }

func (e panicError) Error() string { return fmt.Sprintf("panic: %v", e.v) }

// responseWriter records whether the response has started.
type responseWriter struct {
	http.ResponseWriter
	wroteHeader bool
}

func (w *responseWriter) WriteHeader(status int) {
	w.wroteHeader = true
	w.ResponseWriter.WriteHeader(status)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// formatTime formats a created time as the API emits it: UTC, 'Z', exactly
// microsecond precision, the precision at which stores keep it.
func formatTime(t time.Time) string {
	return t.UTC().Format(timeLayout)
}

// timeLayout is formatTime's layout.
const timeLayout = "2006-01-02T15:04:05.000000Z"
