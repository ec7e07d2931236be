package http_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/auth"
	tackhttp "github.com/tack-ipfs/tack/http"
	"github.com/tack-ipfs/tack/sqlite"
	"github.com/tack-ipfs/tack/sqlite/sqlitetest"
)

// delegate is the node's delegate in tests.
const delegate = "/ip4/198.51.100.1/tcp/4001/p2p/12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf"

const accessURL = "http://127.0.0.1:8080/tokens"

// notes records what a Server tells its Notifier.
type notes struct {
	mu      sync.Mutex
	queued  int
	removed []string
}

func (n *notes) Queued() { n.mu.Lock(); n.queued++; n.mu.Unlock() }

func (n *notes) Removed(id string) { n.mu.Lock(); n.removed = append(n.removed, id); n.mu.Unlock() }

func (n *notes) get() (int, []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.queued, append([]string(nil), n.removed...)
}

// env is a Server over a real SQLite store and real JWT tokens, served by
// httptest.
type env struct {
	db     *sqlite.DB
	auth   *auth.Auth
	server *tackhttp.Server
	notes  *notes
	url    string
}

// newEnv starts a test server; configure may change the Server first.
func newEnv(tb testing.TB, configure func(s *tackhttp.Server), mount ...func(*http.ServeMux)) *env {
	tb.Helper()
	db := sqlitetest.MustOpen(tb)
	e := &env{db: db, auth: auth.New(db, []byte(strings.Repeat("k", 32))), notes: &notes{}}
	e.server = &tackhttp.Server{
		Store:     db,
		Auth:      e.auth,
		Delegates: func() []string { return []string{delegate} },
		Notifier:  e.notes,
		AccessURL: accessURL,
	}
	if configure != nil {
		configure(e.server)
	}
	ts := httptest.NewServer(e.server.Handler(mount...))
	tb.Cleanup(ts.Close)
	e.url = ts.URL
	return e
}

// MustAccount creates an account with the given access and returns it with
// an API token.
func (e *env) MustAccount(tb testing.TB, email string, access tack.Access) (*tack.Account, string) {
	tb.Helper()
	a := &tack.Account{Email: email, Access: access}
	if err := e.db.CreateAccount(context.Background(), a); err != nil {
		tb.Fatal(err)
	}
	token, _, err := e.auth.Issue(context.Background(), a.ID, "test")
	if err != nil {
		tb.Fatal(err)
	}
	return a, token
}

// response is a finished HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request with the token (none if empty) and returns the answer.
func (e *env) do(tb testing.TB, method, path, token, body string, headers ...string) response {
	tb.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, r)
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		tb.Errorf("%s %s: got Content-Type %q, want application/json", method, path, ct)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// MustFailure checks that r is an error in the API's format with the given
// status and reason, and returns its details.
func MustFailure(tb testing.TB, r response, status int, reason string) string {
	tb.Helper()
	if r.status != status {
		tb.Fatalf("got status %d, want %d; body %s", r.status, status, r.body)
	}
	var f struct {
		Error *struct {
			Reason  *string `json:"reason"`
			Details string  `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &f); err != nil || f.Error == nil || f.Error.Reason == nil {
		tb.Fatalf("body %q is not a Failure (%v)", r.body, err)
	}
	if *f.Error.Reason != reason {
		tb.Errorf("got reason %q, want %q (details %q)", *f.Error.Reason, reason, f.Error.Details)
	}
	if f.Error.Details == "" {
		tb.Errorf("got no details")
	}
	return f.Error.Details
}

// MustStatus decodes a PinStatus answer with the wanted HTTP status.
func MustStatus(tb testing.TB, r response, status int) tackhttp.PinStatus {
	tb.Helper()
	if r.status != status {
		tb.Fatalf("got status %d, want %d; body %s", r.status, status, r.body)
	}
	var ps tackhttp.PinStatus
	if err := json.Unmarshal(r.body, &ps); err != nil {
		tb.Fatalf("decode %s: %v", r.body, err)
	}
	return ps
}

// MustResults decodes a 200 answer of GET /pins.
func MustResults(tb testing.TB, r response) tackhttp.PinResults {
	tb.Helper()
	if r.status != http.StatusOK {
		tb.Fatalf("got status %d, want 200; body %s", r.status, r.body)
	}
	var res tackhttp.PinResults
	if err := json.Unmarshal(r.body, &res); err != nil {
		tb.Fatalf("decode %s: %v", r.body, err)
	}
	if res.Results == nil {
		tb.Fatalf("results is null or missing in %s", r.body)
	}
	return res
}

// MustCreate pins a body and returns its PinStatus.
func (e *env) MustCreate(tb testing.TB, token, body string) tackhttp.PinStatus {
	tb.Helper()
	return MustStatus(tb, e.do(tb, "POST", "/pins", token, body), http.StatusAccepted)
}
