package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ipfs/boxo/pinning/remote/client/openapi"
)

// How requests are retried. A 429 or 503 is the server asking to slow
// down, not failing: it gets more attempts than other transient errors (a
// 5xx, a refused or broken connection while a server restarts, a timeout).
const (
	requestTimeout       = time.Minute
	maxThrottledAttempts = 20
	maxTransientAttempts = 6
	firstRetryDelay      = 500 * time.Millisecond
	maxRetryDelay        = 30 * time.Second
)

// errInterrupted is returned by service.call when the run's context ended
// before a request could start.
var errInterrupted = errors.New("interrupted")

// stopError is an answer that stops the whole run: every other request
// would get it too (a refused token, no Pinning Service API at the URL).
type stopError struct{ err error }

func (e *stopError) Error() string { return e.err.Error() }
func (e *stopError) Unwrap() error { return e.err }

// service is one end of a migration, the source or the target, with the
// retry state its requests share.
type service struct {
	name string // "source" or "target", for messages
	url  string
	api  *openapi.APIClient

	mu          sync.Mutex
	pausedUntil time.Time // no request starts before this, after a 429 or 503
	pausedAt    time.Time // when the last pause began
	throttled   int       // pauses since the last success

	slowDowns atomic.Int64 // 429 and 503 answers in all, for the summary
	retries   atomic.Int64 // other retried errors in all
}

func newService(name, url, token string) *service {
	return &service{name: name, url: url, api: pinningClient(url, token)}
}

// call runs one request, f, and retries it as its error asks. Once ctx
// ends (Ctrl-C) no new attempt starts, but an attempt under way finishes:
// f gets a context without ctx's cancellation, with a timeout of its own.
// It returns nil, f's last error, a *stopError, or errInterrupted.
//
// A 429 or 503 pauses every request to this service for a delay that
// doubles with each such answer in a row, from firstRetryDelay up to
// maxRetryDelay: tack's Retry-After is 1 second, and a server that wants
// longer keeps answering 429 until the delay has grown to it.
func (s *service) call(ctx context.Context, f func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		if err := s.waitPause(ctx); err != nil {
			return errInterrupted
		}
		sent := time.Now()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), requestTimeout)
		err := f(rctx)
		cancel()
		if err == nil {
			s.mu.Lock()
			s.throttled = 0
			s.mu.Unlock()
			return nil
		}
		switch status := httpStatus(err); {
		case errors.Is(err, errAnswerTooLarge) || errors.Is(err, errOtherOrigin) || errors.Is(err, errTooManyResults):
			var uerr *url.Error // "Get URL: …" says the URL again
			if errors.As(err, &uerr) {
				err = uerr.Err
			}
			return &stopError{fmt.Errorf("the %s at %s is refused: %w", s.name, s.url, err)}
		case status == 429 || status == 503:
			s.slowDowns.Add(1)
			if attempt >= maxThrottledAttempts {
				return err
			}
			s.pause(sent)
		case status == 401 || status == 403:
			return &stopError{fmt.Errorf("the %s refuses the token: %s", s.name, failureText(err))}
		case status == 404:
			// Only a request ID can be missing, and migrate never asks
			// for one: the URL has no Pinning Service API.
			return &stopError{fmt.Errorf("the %s has no Pinning Service API at %s: %s", s.name, s.url, failureText(err))}
		case status >= 500 || status == 0 && transient(err):
			if attempt >= maxTransientAttempts {
				return err
			}
			s.retries.Add(1)
			if !sleep(ctx, retryDelay(attempt)) {
				return errInterrupted
			}
		default:
			return err
		}
	}
}

// waitPause waits until the service's pause after a 429 or 503 is over.
func (s *service) waitPause(ctx context.Context) error {
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.mu.Lock()
		d := time.Until(s.pausedUntil)
		s.mu.Unlock()
		if d <= 0 {
			return nil
		}
		if !sleep(ctx, d) {
			return ctx.Err()
		}
	}
}

// pause holds back every request to the service after a 429 or 503 to
// a request sent at sent. The answers to requests sent before the last
// pause began are part of the wave that caused it: they do not make the
// pause longer.
func (s *service) pause(sent time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sent.Before(s.pausedAt) {
		return
	}
	s.throttled++
	s.pausedAt = time.Now()
	s.pausedUntil = s.pausedAt.Add(retryDelay(s.throttled))
}

// retryDelay is the delay before the attempt after the n-th failed one:
// firstRetryDelay doubling up to maxRetryDelay, plus up to a quarter more
// at random so that concurrent requests do not return all at once.
func retryDelay(n int) time.Duration {
	d := maxRetryDelay
	if n < 16 {
		d = min(firstRetryDelay<<(n-1), maxRetryDelay)
	}
	return d + rand.N(d/4+1)
}

// sleep waits for d, or returns false when ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// httpStatus returns the HTTP status of a failed request, or 0 if there
// was no response.
func httpStatus(err error) int {
	var serr *statusError
	if errors.As(err, &serr) {
		return serr.code
	}
	return 0
}

// transient reports whether a request that got no response may work if
// sent again: the connection was refused, reset or cut, or timed out.
func transient(err error) bool {
	var nerr net.Error
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded) || errors.As(err, &nerr) && nerr.Timeout()
}

// maybeDone reports whether a failed request may have been carried out
// all the same: its answer was lost, or it was a 5xx other than 503. A
// create that fails so is looked up before it is sent again, so that a
// retry never makes a second request. A 429 or 503 comes before any work,
// and a refused connection sent nothing.
func maybeDone(err error) bool {
	switch status := httpStatus(err); {
	case status == 429 || status == 503:
		return false
	case status >= 500:
		return true
	case status == 0:
		return !errors.Is(err, syscall.ECONNREFUSED)
	}
	return false
}

// failureText returns what a server said about an error: the Failure's
// reason and details, or the status, or the error itself.
func failureText(err error) string {
	var oerr openapi.GenericOpenAPIError
	if errors.As(err, &oerr) {
		if f, ok := oerr.Model().(openapi.Failure); ok {
			if d := f.Error.GetDetails(); d != "" {
				return f.Error.GetReason() + ": " + d
			}
			return f.Error.GetReason()
		}
		if n := httpStatus(err); n != 0 {
			return "HTTP " + strconv.Itoa(n)
		}
	}
	return err.Error()
}
