package http_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/auth"
	tackhttp "github.com/tack-ipfs/tack/http"
)

// bodyTimeout is the BodyTimeout of the servers in these tests.
const bodyTimeout = 300 * time.Millisecond

// closeWait is how long a test waits for the server to close a
// connection: far longer than bodyTimeout, so that a slow machine never
// fails the test, and short enough that a server without a body timeout
// fails it.
const closeWait = 20 * time.Second

// slowClient sends a request's headers, then its body one byte at a time
// every interval (or, with interval 0, one byte and then nothing), as a
// client that holds connections open on purpose does.
type slowClient struct {
	conn net.Conn
	stop chan struct{}
	done chan struct{}
}

func dialSlow(tb testing.TB, serverURL, method, path string, header map[string]string, length int, interval time.Duration) *slowClient {
	tb.Helper()
	u, err := url.Parse(serverURL)
	if err != nil {
		tb.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		tb.Fatal(err)
	}
	var h strings.Builder
	fmt.Fprintf(&h, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", method, path, u.Host, length)
	for k, v := range header {
		fmt.Fprintf(&h, "%s: %s\r\n", k, v)
	}
	h.WriteString("\r\n{")
	if _, err := io.WriteString(conn, h.String()); err != nil {
		tb.Fatal(err)
	}
	c := &slowClient{conn: conn, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		if interval == 0 {
			return
		}
		t := time.NewTicker(interval)
		defer t.Stop()
		for range length - 2 {
			select {
			case <-c.stop:
				return
			case <-t.C:
			}
			if _, err := conn.Write([]byte(" ")); err != nil {
				return // the server closed the connection
			}
		}
	}()
	tb.Cleanup(func() {
		close(c.stop)
		conn.Close()
		<-c.done
	})
	return c
}

// MustBeClosed reads what the server sends until it closes the connection,
// and fails the test if that takes longer than closeWait. It returns the
// response the server sent before closing, if any.
func (c *slowClient) MustBeClosed(tb testing.TB) *http.Response {
	tb.Helper()
	c.conn.SetReadDeadline(time.Now().Add(closeWait))
	br := bufio.NewReader(c.conn)
	resp, err := http.ReadResponse(br, nil)
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(strings.NewReader(string(body)))
	}
	if isTimeout(err) {
		tb.Fatalf("the server still held the connection after %s, with a body timeout of %s", closeWait, bodyTimeout)
	}
	// After the response (or none), the connection must end.
	if _, err := io.Copy(io.Discard, br); isTimeout(err) {
		tb.Fatalf("the server answered but still held the connection after %s", closeWait)
	}
	if err != nil {
		return nil
	}
	return resp
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// mustTimeoutFailure checks that resp is a 408 in the API's error format.
func mustTimeoutFailure(tb testing.TB, resp *http.Response) {
	tb.Helper()
	if resp == nil {
		tb.Fatal("the server closed the connection without a 408")
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout {
		tb.Fatalf("got %d %s, want 408", resp.StatusCode, body)
	}
	var f tackhttp.Failure
	if err := json.Unmarshal(body, &f); err != nil || f.Error.Reason != "REQUEST_TIMEOUT" || f.Error.Details == "" {
		tb.Fatalf("408 body %q is not a Failure with reason REQUEST_TIMEOUT", body)
	}
}

// A request body that trickles in, or stops half way, is cut off after
// BodyTimeout, whoever sends it: the API answers 408 in its error format
// and closes the connection. Normal requests are not affected.
func TestSlowBody(t *testing.T) {
	e := newEnv(t, func(s *tackhttp.Server) { s.BodyTimeout = bodyTimeout })
	_, token := e.MustAccount(t, "slow@example.com", tack.AccessApproved)
	bearer := map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"}

	t.Run("trickling body", func(t *testing.T) {
		c := dialSlow(t, e.url, "POST", "/pins", bearer, 1000, bodyTimeout/3)
		mustTimeoutFailure(t, c.MustBeClosed(t))
	})
	t.Run("body stops half way", func(t *testing.T) {
		c := dialSlow(t, e.url, "POST", "/pins", bearer, 1000, 0)
		mustTimeoutFailure(t, c.MustBeClosed(t))
	})
	t.Run("replace", func(t *testing.T) {
		c := dialSlow(t, e.url, "POST", "/pins/00000000-0000-4000-8000-000000000000", bearer, 1000, 0)
		c.MustBeClosed(t)
	})
	t.Run("without a token", func(t *testing.T) {
		// The 401 comes at once; the body the server then discards
		// must not hold the connection either.
		c := dialSlow(t, e.url, "POST", "/pins", nil, 1000, bodyTimeout/3)
		if resp := c.MustBeClosed(t); resp != nil && resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("got %d, want 401", resp.StatusCode)
		}
	})
	t.Run("unknown path", func(t *testing.T) {
		c := dialSlow(t, e.url, "PUT", "/nowhere", nil, 1000, 0)
		c.MustBeClosed(t)
	})

	t.Run("normal requests", func(t *testing.T) {
		// A request that sends its body at once is served, and the
		// connection then serves further requests after BodyTimeout has
		// long passed: the deadline is the body's, not the connection's.
		conn, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		br := bufio.NewReader(conn)
		send := func(method, path, body string) *http.Response {
			t.Helper()
			req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+token)
			if err := req.Write(conn); err != nil {
				t.Fatal(err)
			}
			conn.SetReadDeadline(time.Now().Add(closeWait))
			resp, err := http.ReadResponse(br, req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp
		}
		cid, _ := mustCID(t)
		if resp := send("POST", "/pins", `{"cid":"`+cid+`"}`); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("POST /pins: %d, want 202", resp.StatusCode)
		}
		time.Sleep(3 * bodyTimeout)
		if resp := send("GET", "/pins", ""); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /pins on the same connection: %d, want 200", resp.StatusCode)
		}
		if resp := send("POST", "/pins", `{"cid":"`+cid+`"}`); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("second POST /pins on the same connection: %d, want 202", resp.StatusCode)
		}
	})
}

// The web pages' forms have the same body timeout.
func TestSlowFormBody(t *testing.T) {
	web := &tackhttp.Web{
		HashPassword:  auth.HashPassword,
		CheckPassword: auth.CheckPassword,
		Key:           []byte(strings.Repeat("k", 32)),
		PublicURL:     "http://127.0.0.1:8080",
	}
	e := newEnv(t, func(s *tackhttp.Server) {
		s.BodyTimeout = bodyTimeout
		web.Store = s.Store
		web.Issue = s.Auth.(*auth.Auth).IssueScoped
	}, func(mux *http.ServeMux) { web.Mount(mux) })
	c := dialSlow(t, e.url, "POST", "/signin", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 1000, bodyTimeout/3)
	if resp := c.MustBeClosed(t); resp == nil || resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("got %v, want a 408 page", resp)
	}
}
