package http_test

import (
	"context"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tack-ipfs/tack"
	tackhttp "github.com/tack-ipfs/tack/http"
)

// holdingAuth holds each authentication until the test lets one go, and
// says when one starts: a request it holds keeps its slot.
type holdingAuth struct {
	tack.Authenticator
	entered chan struct{}
	release chan struct{}
}

func newHoldingAuth(a tack.Authenticator) *holdingAuth {
	return &holdingAuth{Authenticator: a, entered: make(chan struct{}, 100), release: make(chan struct{}, 100)}
}

func (a *holdingAuth) Authenticate(ctx context.Context, token string) (*tack.Account, *tack.Token, error) {
	a.entered <- struct{}{}
	select {
	case <-a.release:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	return a.Authenticator.Authenticate(ctx, token)
}

// get sends GET /pins?limit=1 with c and returns the status, the
// Retry-After header and the body.
func get(tb testing.TB, c *http.Client, url, token string) response {
	req, err := http.NewRequest("GET", url+"/pins?limit=1", nil)
	if err != nil {
		tb.Error(err)
		return response{}
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		tb.Error(err)
		return response{}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Error(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// goAsk sends get in the background; its answer comes on the channel.
func goAsk(tb testing.TB, c *http.Client, url, token string) <-chan response {
	ch := make(chan response, 1)
	go func() { ch <- get(tb, c, url, token) }()
	return ch
}

// TestShedOverload: with two requests in flight, a third that finds no slot
// within the queue wait gets 503 SERVICE_UNAVAILABLE with Retry-After, never
// reaching authentication; the slots come back when the two finish, and no
// goroutine is left behind.
func TestShedOverload(t *testing.T) {
	var hold *holdingAuth
	e := newEnv(t, func(s *tackhttp.Server) {
		hold = newHoldingAuth(s.Auth)
		s.Auth = hold
		s.MaxInFlight, s.QueueWait = 2, time.Millisecond
	})
	_, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	tr := &http.Transport{}
	c := &http.Client{Transport: tr}
	goroutines := runtime.NumGoroutine()

	for round := range 2 { // the second round proves the slots came back
		first, second := goAsk(t, c, e.url, token), goAsk(t, c, e.url, token)
		<-hold.entered
		<-hold.entered

		r := get(t, c, e.url, token)
		details := MustFailure(t, r, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE")
		if !strings.Contains(details, "overloaded") {
			t.Errorf("round %d: details %q do not say the server is overloaded", round, details)
		}
		if got := r.header.Get("Retry-After"); got != "1" {
			t.Errorf("round %d: Retry-After %q, want 1", round, got)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("round %d: Content-Type %q, want application/json", round, ct)
		}
		if n := len(hold.entered); n != 0 {
			t.Errorf("round %d: the shed request reached authentication", round)
		}

		hold.release <- struct{}{}
		hold.release <- struct{}{}
		MustResults(t, <-first)
		MustResults(t, <-second)
	}

	// Nothing stays behind once the connections are gone. The loop is
	// bounded: the server's connection goroutines end as they read EOF.
	tr.CloseIdleConnections()
	for i := 0; runtime.NumGoroutine() > goroutines; i++ {
		if i == 500 {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before the requests:\n%s", runtime.NumGoroutine(), goroutines, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestShedQueue: a request that finds every slot taken waits for one, and
// is served when a slot comes back within the queue wait.
func TestShedQueue(t *testing.T) {
	var hold *holdingAuth
	var server *tackhttp.Server
	e := newEnv(t, func(s *tackhttp.Server) {
		hold = newHoldingAuth(s.Auth)
		s.Auth = hold
		s.MaxInFlight, s.QueueWait = 2, time.Hour // never shed in this test
		server = s
	})
	_, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	c := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(c.CloseIdleConnections)

	first, second := goAsk(t, c, e.url, token), goAsk(t, c, e.url, token)
	<-hold.entered
	<-hold.entered
	third := goAsk(t, c, e.url, token)
	for i := 0; server.Waiting() != 1; i++ {
		if i == 1000 {
			t.Fatal("the third request never waited for a slot")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := len(hold.entered); n != 0 {
		t.Fatal("the third request was served with every slot taken")
	}
	hold.release <- struct{}{} // one of the first two finishes: the third gets its slot
	<-hold.entered
	hold.release <- struct{}{}
	hold.release <- struct{}{}
	for _, ch := range []<-chan response{first, second, third} {
		MustResults(t, <-ch)
	}
	if n := server.Waiting(); n != 0 {
		t.Errorf("%d requests still waiting", n)
	}
}

// TestShedOnlyTheAPI: the 404 of an unknown path is not counted against
// the limit, so it answers while every slot is taken.
func TestShedOnlyTheAPI(t *testing.T) {
	var hold *holdingAuth
	e := newEnv(t, func(s *tackhttp.Server) {
		hold = newHoldingAuth(s.Auth)
		s.Auth = hold
		s.MaxInFlight, s.QueueWait = 1, time.Millisecond
	})
	_, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	c := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(c.CloseIdleConnections)
	first := goAsk(t, c, e.url, token)
	<-hold.entered
	MustFailure(t, e.do(t, "GET", "/nothing-here", token, ""), http.StatusNotFound, "NOT_FOUND")
	hold.release <- struct{}{}
	MustResults(t, <-first)
}
