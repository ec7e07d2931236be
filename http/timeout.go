package http

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/tack-ipfs/tack"
)

// bodyDeadline gives the body of every request BodyTimeout to arrive. The
// deadline is the connection's read deadline, set when the handler starts
// and lifted once the body has been read to its end, so that it bounds
// reading the body and nothing else: not a long handler, not the next
// request on the connection (net/http sets its own deadlines for that). A
// handler that does not read the body is covered too: net/http discards
// what is left of it before answering, under the same deadline, and
// closes the connection if that fails; an error answer does not wait for
// it (closeUnreadBody). Handlers get a copy of the request with the timed
// body, and net/http's own keeps its body: so net/http sees a large body
// left unread, and after the answer closes the connection gently (its
// closeWriteAndWait) rather than resetting it, which could cost a client
// still sending the answer.
//
// A route that takes larger bodies replaces the deadline with its own
// rule through http.ResponseController.SetReadDeadline.
func (s *Server) bodyDeadline(h http.Handler) http.Handler {
	timeout := s.BodyTimeout
	if timeout <= 0 {
		timeout = DefaultBodyTimeout
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			rc := http.NewResponseController(w)
			if err := rc.SetReadDeadline(time.Now().Add(timeout)); err == nil {
				timed := *r
				timed.Body = &timedBody{ReadCloser: r.Body, rc: rc, timeout: timeout}
				r = &timed
			}
		}
		h.ServeHTTP(w, r)
	})
}

// timedBody is a request body under a read deadline. It lifts the
// deadline at the end of the body, and turns the deadline's error into an
// ETIMEOUT *tack.Error that handlers answer with 408.
type timedBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
	done    bool
}

func (b *timedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF && !b.done:
		b.done = true
		b.rc.SetReadDeadline(time.Time{})
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = tack.Errorf(tack.ETIMEOUT, "the request body did not arrive within %s; send it again, faster", b.timeout)
	}
	return n, err
}

// unreadBodyGrace is how long what is left of a body may still arrive
// after an answer that did not read it, before the connection closes.
const unreadBodyGrace = time.Second

// closeUnreadBody readies the answer to a request whose body is left
// unread, such as a refusal decided before the body (no upload slot, a
// refused token): Connection: close, so that net/http writes the answer
// at once instead of first reading up to 256 KiB of the body, which a
// client that holds the body open would make last until the body's
// deadline. What is left of the body gets unreadBodyGrace before the
// connection closes.
func closeUnreadBody(w http.ResponseWriter, r *http.Request) {
	tb, ok := r.Body.(*timedBody)
	if !ok || tb.done {
		return
	}
	w.Header().Set("Connection", "close")
	tb.rc.SetReadDeadline(time.Now().Add(unreadBodyGrace))
}
