package http_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/tack-ipfs/tack"
	tackhttp "github.com/tack-ipfs/tack/http"
	"github.com/tack-ipfs/tack/internal/cartest"
)

// heldRequest sends the headers of a request with a body of contentLength
// bytes, sends none of the body, and returns the answer: it must come
// before the body does, which is never. The read deadline only ends the
// test if no answer comes; the server's body deadline is 30 s.
func heldRequest(t *testing.T, base, method, path, token, contentType string, contentLength int) *http.Response {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n", method, path, u.Host, contentType, contentLength)
	if token != "" {
		fmt.Fprintf(conn, "Authorization: Bearer %s\r\n", token)
	}
	fmt.Fprint(conn, "\r\n")
	conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%s %s with the body held: no answer before the body (%v)", method, path, err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	var f tackhttp.Failure
	if err := json.Unmarshal(b, &f); err != nil || f.Error.Reason == "" {
		t.Errorf("the answer %q is not a Failure", b)
	}
	if !resp.Close {
		t.Errorf("the answer has no Connection: close")
	}
	// The server closes the connection rather than wait for the body.
	if n, err := br.Read(make([]byte, 1)); err == nil {
		t.Errorf("read %d bytes after the answer, want the connection closed", n)
	}
	return resp
}

// A refusal decided before the body is read (no upload slot, the
// account's uploads, a token refused) reaches a client that holds its
// body at once, with Connection: close, whatever its Content-Length: the
// server does not first wait for the body.
func TestRefusalBeforeBody(t *testing.T) {
	e := newCAREnv(t, func(s *tackhttp.Server) { s.MaxUploads = 2 })
	_, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	_, other := e.MustAccount(t, "b@example.com", tack.AccessApproved)
	root, all := cartest.DAG(t, 5, 100)
	body := cartest.CAR(t, []cid.Cid{root.Cid()}, all...)

	for _, size := range []int{100 << 10, 10 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			release := e.holdUpload(t, token, body)
			// The account holds its share of the two slots.
			if r := heldRequest(t, e.url, "POST", "/car", token, "application/vnd.ipld.car", size); r.StatusCode != http.StatusTooManyRequests {
				t.Errorf("an upload over the account's share: %d, want 429", r.StatusCode)
			}
			releaseOther := e.holdUpload(t, other, body)
			if r := heldRequest(t, e.url, "POST", "/car", token, "application/vnd.ipld.car", size); r.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("an upload without a slot: %d, want 503", r.StatusCode)
			}
			release()
			releaseOther()
			if r := heldRequest(t, e.url, "POST", "/car", "wrong", "application/vnd.ipld.car", size); r.StatusCode != http.StatusUnauthorized {
				t.Errorf("an upload with a wrong token: %d, want 401", r.StatusCode)
			}
			if r := heldRequest(t, e.url, "POST", "/pins", "wrong", "application/json", size); r.StatusCode != http.StatusUnauthorized {
				t.Errorf("a pin with a wrong token: %d, want 401", r.StatusCode)
			}
			if r := heldRequest(t, e.url, "POST", "/car", token, "text/plain", size); r.StatusCode != http.StatusBadRequest {
				t.Errorf("an upload of text/plain: %d, want 400", r.StatusCode)
			}
		})
	}
	// The server still takes uploads.
	MustResults(t, e.upload(t, token, "", bytes.NewReader(body)))
}
