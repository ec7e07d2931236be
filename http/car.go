package http

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	"github.com/tack-ipfs/tack"
)

// Defaults of the upload limits (see Server).
const (
	// DefaultMaxUpload caps one CAR upload: 32 GiB is the largest piece
	// that Filecoin deals take and that tools which shard CARs aim under,
	// so any CAR those tools make fits, while one upload can never write
	// more than that to the disk before it is refused and collected.
	DefaultMaxUpload = 32 << 30
	// DefaultMaxUploads caps the uploads served at once. Each holds about
	// 13 MiB of buffers and 16 bytes per block, and a disk is not faster
	// for more writers.
	DefaultMaxUploads = 8
	// DefaultUploadIdle and UploadMinProgress are the uploads' body
	// deadline: at least UploadMinProgress bytes must arrive in every
	// DefaultUploadIdle, or the upload gets 408 and the connection closes.
	DefaultUploadIdle = 30 * time.Second
	UploadMinProgress = 64 << 10
)

// carContentType is the media type of a CAR.
const carContentType = "application/vnd.ipld.car"

// parseCAROptions reads ?name=, ?meta= and ?origin= with the rules of the
// Pin object.
func parseCAROptions(q map[string][]string) (tack.UploadOptions, error) {
	var o tack.UploadOptions
	if v := q["name"]; len(v) > 0 {
		if len(v) > 1 {
			return o, tack.Errorf(tack.EINVALID, "name is given %d times; give it once", len(v))
		}
		if err := checkText("name", v[0], tack.MaxNameBytes); err != nil {
			return o, err
		}
		o.Name = v[0]
	}
	if v := q["meta"]; len(v) > 0 {
		if len(v) > 1 {
			return o, tack.Errorf(tack.EINVALID, "meta is given %d times; give one JSON object", len(v))
		}
		meta, err := parseMeta([]byte(v[0]))
		if err != nil {
			return o, tack.Errorf(tack.EINVALID, "invalid meta: %s; it must be a URL-escaped JSON object of strings", tack.ErrorMessage(err))
		}
		if len(meta) > 0 {
			o.Meta = meta
		}
	}
	origins, err := parseOrigins(q["origin"])
	if err != nil {
		return o, err
	}
	o.Origins = origins
	return o, nil
}

// parseOrigins checks origins as ParsePin does: at most tack.MaxOrigins
// multiaddrs, none twice.
func parseOrigins(origins []string) ([]string, error) {
	if len(origins) > tack.MaxOrigins {
		return nil, tack.Errorf(tack.EINVALID, "invalid origins: %d given, at most %d allowed", len(origins), tack.MaxOrigins)
	}
	seen := map[string]bool{}
	var out []string
	for _, o := range origins {
		if _, err := ma.NewMultiaddr(o); err != nil {
			return nil, tack.Errorf(tack.EINVALID, "invalid origins: %q is not a multiaddr", clip(o))
		}
		if seen[o] {
			return nil, tack.Errorf(tack.EINVALID, "invalid origins: %q is given twice", clip(o))
		}
		seen[o] = true
		out = append(out, o)
	}
	return out, nil
}

// handleUploadCAR serves POST /car: the body is a CAR (v1 or v2), each of
// whose roots becomes a pin request of the account. The answer is 200
// with the requests' PinStatus objects as GET /pins lists them: pinned if
// the DAG is whole (in this CAR, or with blocks tack held already),
// queued otherwise (the pinner fetches the rest).
func (s *Server) handleUploadCAR(w http.ResponseWriter, r *http.Request, acct *tack.Account) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != carContentType && mt != "application/octet-stream") {
			s.Error(w, r, tack.Errorf(tack.EINVALID, "Content-Type is %q: send the CAR as %s", clip(ct), carContentType))
			return
		}
	}
	opts, err := parseCAROptions(r.URL.Query())
	if err != nil {
		s.Error(w, r, err)
		return
	}
	body, err := s.uploadBody(w, r)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	reqs, err := s.importCAR(r.Context(), acct, body, body, opts)
	if err != nil {
		s.uploadFailed(w, err)
		s.Error(w, r, err)
		return
	}
	s.uploaded(w, r, reqs)
}

// importCAR hands the CAR in r, which is body itself or a formFile of it,
// to the Importer (see importUpload).
func (s *Server) importCAR(ctx context.Context, acct *tack.Account, r io.Reader, body *uploadReader, opts tack.UploadOptions) ([]*tack.PinRequest, error) {
	if s.Importer == nil {
		return nil, tack.Errorf(tack.EUNAVAILABLE, "this server does not take CAR uploads")
	}
	return s.importUpload(acct, body, func() ([]*tack.PinRequest, error) {
		return s.Importer.Import(ctx, acct, r, opts)
	})
}

// importUpload runs an upload's import, read from body, once the account
// has fewer than maxAccountUploads in progress, and counts the upload.
// Whatever failed while tack shuts down failed because of it: errShutdown.
func (s *Server) importUpload(acct *tack.Account, body *uploadReader, run func() ([]*tack.PinRequest, error)) (reqs []*tack.PinRequest, err error) {
	defer func() {
		outcome := "ok"
		if err != nil {
			outcome = tack.ErrorCode(err)
		}
		s.Metrics.Upload(outcome, body.n)
	}()
	release, ok := s.accountUpload(acct.ID)
	if !ok {
		return nil, tack.Errorf(tack.ERATELIMITED, "this account has %d uploads in progress, the most one account may have at once; retry when one ends", s.maxAccountUploads())
	}
	defer release()
	reqs, err = run()
	if err != nil && s.stopped() {
		return nil, errShutdown
	}
	return reqs, err
}

// retryAfterShutdown is the Retry-After of an upload that tack's
// shutdown ended: time enough for a supervisor to start it again, or for
// a load balancer to send the next try to another node.
const retryAfterShutdown = "10"

// errShutdown is the failure of an upload that tack's shutdown ended.
var errShutdown = tack.Errorf(tack.EUNAVAILABLE, "tack is shutting down and could not finish this upload in time; nothing of it was kept: send it again")

// stopped tells whether Stop is done: tack is shutting down.
func (s *Server) stopped() bool { return s.Stop != nil && s.Stop.Err() != nil }

// uploadFailed readies the answer to an upload that failed with err: one
// that tack's shutdown ended gets a longer Retry-After than an overload.
func (s *Server) uploadFailed(w http.ResponseWriter, err error) {
	if err == errShutdown {
		w.Header().Set("Retry-After", retryAfterShutdown)
	}
}

// uploaded answers an upload with its requests.
func (s *Server) uploaded(w http.ResponseWriter, r *http.Request, reqs []*tack.PinRequest) {
	s.queuePositions(r, reqs...)
	delegates := s.delegates()
	res := PinResults{Count: len(reqs), Results: make([]PinStatus, 0, len(reqs))}
	for _, req := range reqs {
		res.Results = append(res.Results, pinStatus(req, delegates))
	}
	s.writeJSON(w, r, http.StatusOK, res)
}

// uploadSlot takes one of the MaxUploads slots, or answers 503 and
// returns false. Uploads have their own slots, apart from MaxInFlight:
// an upload runs for minutes and must not keep the API's short requests
// waiting.
func (s *Server) uploadSlot(w http.ResponseWriter, r *http.Request) (release func(), ok bool) {
	select {
	case s.uploads <- struct{}{}:
		return func() { <-s.uploads }, true
	default:
		w.Header().Set("Retry-After", "10")
		s.Error(w, r, tack.Errorf(tack.EUNAVAILABLE, "%d uploads are in progress, the most this server takes at once; retry in a few seconds", cap(s.uploads)))
		return nil, false
	}
}

// maxAccountUploads is how many of the MaxUploads slots one account may
// hold: half, so that one account cannot keep every other out.
func (s *Server) maxAccountUploads() int { return max(1, cap(s.uploads)/2) }

// accountUpload counts an upload of the account, or returns false if the
// account has maxAccountUploads in progress already.
func (s *Server) accountUpload(id int64) (release func(), ok bool) {
	s.uploadsMu.Lock()
	defer s.uploadsMu.Unlock()
	if s.accountUploads[id] >= s.maxAccountUploads() {
		return nil, false
	}
	if s.accountUploads == nil {
		s.accountUploads = map[int64]int{}
	}
	s.accountUploads[id]++
	return func() {
		s.uploadsMu.Lock()
		defer s.uploadsMu.Unlock()
		if s.accountUploads[id]--; s.accountUploads[id] == 0 {
			delete(s.accountUploads, id)
		}
	}, true
}

// uploadRoute wraps an upload route: its own slots instead of
// MaxInFlight, and an end when Stop is done. Then the upload's context
// ends, which stops its writes and its Sync, and its body's read deadline
// is now, which ends a read waiting for the client: the handler answers
// errShutdown (see importCAR and uploadReader).
func (s *Server) uploadRoute(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.stopped() {
			w.Header().Set("Retry-After", retryAfterShutdown)
			s.Error(w, r, errShutdown)
			return
		}
		release, ok := s.uploadSlot(w, r)
		if !ok {
			return
		}
		defer release()
		if s.Stop != nil {
			ctx, cancel := context.WithCancel(r.Context())
			defer cancel()
			rc := http.NewResponseController(w)
			defer context.AfterFunc(s.Stop, func() {
				cancel()
				_ = rc.SetReadDeadline(time.Now())
			})()
			r = r.WithContext(ctx)
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Server) maxUpload() int64 {
	if s.MaxUpload <= 0 {
		return DefaultMaxUpload
	}
	return s.MaxUpload
}

// uploadBody returns the body of an upload under the upload's limits:
// ETOOLARGE at once for a Content-Length over MaxUpload, and a reader that
// fails with ETOOLARGE past it, and with ETIMEOUT when less than
// UploadMinProgress bytes arrive within UploadIdle. It replaces the
// 30-second deadline of every other body.
func (s *Server) uploadBody(w http.ResponseWriter, r *http.Request) (*uploadReader, error) {
	max := s.maxUpload()
	if r.ContentLength > max {
		w.Header().Set("Connection", "close")
		return nil, tooLargeUpload(max)
	}
	body := io.Reader(r.Body)
	if tb, ok := body.(*timedBody); ok {
		body = tb.ReadCloser // its deadline is replaced below
	}
	idle := s.UploadIdle
	if idle <= 0 {
		idle = DefaultUploadIdle
	}
	u := &uploadReader{r: body, max: max, idle: idle, rc: http.NewResponseController(w), stopped: s.stopped}
	u.extend(time.Now())
	return u, nil
}

func tooLargeUpload(max int64) error {
	return tack.Errorf(tack.ETOOLARGE, "the upload is over this server's limit of %d bytes (--max-upload); split the CAR into smaller ones with the same roots", max)
}

// uploadReader is an upload's body: it counts what arrives, refuses more
// than max bytes, and keeps the connection's read deadline idle ahead as
// long as at least UploadMinProgress bytes arrive in each idle period.
type uploadReader struct {
	r    io.Reader
	rc   *http.ResponseController
	max  int64
	idle time.Duration
	// stopped tells whether tack is shutting down: then the body fails
	// with errShutdown (uploadRoute ends a read waiting for it).
	stopped func() bool

	n    int64     // bytes read
	mark int64     // n when the deadline was last extended
	last time.Time // when it was
	eof  bool      // the body ended
	err  error     // the first error other than io.EOF
}

// Err returns the body's failure, nil if none: Import reports it in place
// of what it did to the CAR (upload.Body).
func (u *uploadReader) Err() error { return u.err }

func (u *uploadReader) extend(now time.Time) {
	u.mark, u.last = u.n, now
	u.rc.SetReadDeadline(now.Add(u.idle))
}

func (u *uploadReader) Read(p []byte) (int, error) {
	if u.err != nil {
		return 0, u.err
	}
	if u.eof {
		return 0, io.EOF
	}
	if u.stopped() {
		u.err = errShutdown
		return 0, u.err
	}
	// Read one byte past the limit at most, to tell a body that ends at
	// the limit from one that goes on.
	if room := u.max - u.n + 1; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := u.r.Read(p)
	u.n += int64(n)
	if u.n > u.max {
		u.err = tooLargeUpload(u.max)
		return n, u.err
	}
	if u.n-u.mark >= UploadMinProgress {
		if now := time.Now(); now.Sub(u.last) >= time.Second {
			u.extend(now)
		}
	}
	switch {
	case err == nil:
	case err == io.EOF:
		u.eof = true
		u.rc.SetReadDeadline(time.Time{})
	case errors.Is(err, os.ErrDeadlineExceeded) && u.stopped():
		u.err = errShutdown
		err = u.err
	case errors.Is(err, os.ErrDeadlineExceeded):
		u.err = tack.Errorf(tack.ETIMEOUT, "the upload stalled: less than %d KiB arrived in %s, after %d bytes; send it again", UploadMinProgress>>10, u.idle, u.n)
		err = u.err
	default:
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			u.err = tack.Errorf(tack.ETOOLARGE, "the upload is over the limit of %d bytes", tooBig.Limit)
		} else {
			// The client went away or broke the framing (a body shorter
			// than its Content-Length): nobody may read the answer.
			u.err = tack.Errorf(tack.EINVALID, "the request body was cut off after %d bytes: %v", u.n, err)
		}
		err = u.err
	}
	return n, err
}

// formFile is a file read from a form in an upload's body: its failure is
// the body's.
type formFile struct {
	io.Reader
	body *uploadReader
}

func (f formFile) Err() error { return f.body.Err() }
