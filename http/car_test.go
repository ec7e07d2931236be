package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	car "github.com/ipld/go-car/v2"
	"github.com/multiformats/go-multicodec"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/blockstore"
	"github.com/tack-ipfs/tack/gc"
	tackhttp "github.com/tack-ipfs/tack/http"
	"github.com/tack-ipfs/tack/internal/cartest"
	"github.com/tack-ipfs/tack/unixfsimport"
	"github.com/tack-ipfs/tack/upload"
)

// carEnv is a test server that takes uploads into a real on-disk
// blockstore, through an Importer.
type carEnv struct {
	*env
	bs *blockstore.Local
	im *upload.Importer
}

func newCAREnv(tb testing.TB, configure func(s *tackhttp.Server)) *carEnv {
	tb.Helper()
	dir := tb.TempDir()
	bs, err := blockstore.OpenLocal(filepath.Join(dir, "blocks"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { bs.Close() })
	im := &upload.Importer{Sync: bs.Sync}
	e := newEnv(tb, func(s *tackhttp.Server) {
		guard, err := gc.NewGuard(bs, s.Store)
		if err != nil {
			tb.Fatal(err)
		}
		im.Store, im.Guard, im.Notifier = s.Store, guard, s.Notifier
		s.Importer = im
		s.Files = &unixfsimport.Importer{Uploads: im}
		if configure != nil {
			configure(s)
		}
	})
	return &carEnv{env: e, bs: bs, im: im}
}

// upload posts body to /car with the query and returns the answer.
func (e *carEnv) upload(tb testing.TB, token, query string, body io.Reader) response {
	tb.Helper()
	req, err := http.NewRequest("POST", e.url+"/car"+query, body)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/vnd.ipld.car")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// holdUpload starts an upload of body by token that sends its first 100
// bytes and holds back the rest, so that it holds an upload slot; release
// sends the rest and checks that the upload succeeded.
func (e *carEnv) holdUpload(t *testing.T, token string, body []byte) (release func()) {
	t.Helper()
	rest, sent := make(chan struct{}), make(chan struct{})
	done := make(chan response)
	go func() {
		done <- e.upload(t, token, "", &slowBody{head: body[:100], rest: body[100:], release: rest, sent: sent})
	}()
	<-sent
	time.Sleep(50 * time.Millisecond)
	return func() { close(rest); MustResults(t, <-done) }
}

// MustPins returns the account's requests.
func (e *carEnv) MustPins(tb testing.TB, acct *tack.Account) []*tack.PinRequest {
	tb.Helper()
	reqs, _, err := e.db.FindPins(context.Background(), tack.PinFilter{AccountID: acct.ID, Limit: 1000})
	if err != nil {
		tb.Fatal(err)
	}
	return reqs
}

func TestUploadCARWhole(t *testing.T) {
	e := newCAREnv(t, nil)
	_, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	root, all := cartest.DAG(t, 20, 3000)
	meta := url.QueryEscape(`{"app":"test"}`)
	res := MustResults(t, e.upload(t, token, "?name=photos&origin=/ip4/198.51.100.7/tcp/4001&meta="+meta, bytes.NewReader(cartest.CAR(t, []cid.Cid{root.Cid()}, all...))))
	if res.Count != 1 || len(res.Results) != 1 {
		t.Fatalf("got %d results, want 1", res.Count)
	}
	ps := res.Results[0]
	if ps.Status != tack.StatusPinned || ps.Pin.CID != root.Cid().String() || ps.Pin.Name != "photos" || ps.Pin.Meta["app"] != "test" || len(ps.Pin.Origins) != 1 {
		t.Errorf("got %+v, want pinned %s named photos with meta and the origin", ps, root.Cid())
	}
	want := int64(0)
	for _, b := range all {
		want += int64(len(b.RawData()))
	}
	if ps.Info["dag_size"] != fmt.Sprint(want) || ps.Info["blocks"] != "21" {
		t.Errorf("got info %v, want dag_size %d and 21 blocks", ps.Info, want)
	}
	// It is a request like any other.
	list := MustResults(t, e.do(t, "GET", "/pins", token, ""))
	if list.Count != 1 || list.Results[0].RequestID != ps.RequestID || list.Results[0].Status != tack.StatusPinned {
		t.Errorf("GET /pins: got %+v", list)
	}
	if n, _ := e.notes.get(); n != 0 {
		t.Errorf("the pinner was told of %d queued requests, want none", n)
	}
}

// A refused CAR gets 400 with the Importer's reason, whether the header,
// a block, the writers or the walk refused it (the upload package tests
// every rule), and makes no request.
func TestUploadCARRefused(t *testing.T) {
	e := newCAREnv(t, nil)
	acct, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	root, all := cartest.DAG(t, 3, 100)
	roots := []cid.Cid{root.Cid()}
	git := cartest.Node(t, 1, cartest.CID(t, multicodec.GitRaw, []byte("x")))
	for _, tc := range []struct {
		name, body string
		want       []string // in the details
	}{
		{"empty body", "", []string{"empty", "application/vnd.ipld.car"}},
		{"not a CAR", "hello, world", []string{"not a CAR"}},
		{"git-raw", string(cartest.CAR(t, roots, cartest.Raw(t, []byte("a")), cartest.Block(t, cartest.CID(t, multicodec.GitRaw, []byte("a")), []byte("a")))), []string{"block #1", "git-raw"}},
		{"hash mismatch", string(append(cartest.CAR(t, roots, all...), cartest.Section(cartest.Raw(t, []byte("a")).Cid(), []byte("b"))...)), []string{"block #4", "does not match"}},
		{"links to git-raw", string(cartest.CAR(t, []cid.Cid{git.Cid()}, git)), []string{"links to", "git-raw"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			details := MustFailure(t, e.upload(t, token, "", strings.NewReader(tc.body)), http.StatusBadRequest, "BAD_REQUEST")
			for _, w := range tc.want {
				if !strings.Contains(details, w) {
					t.Errorf("details %q do not name %q", details, w)
				}
			}
			if reqs := e.MustPins(t, acct); len(reqs) != 0 {
				t.Errorf("a refused upload made %d requests", len(reqs))
			}
		})
	}
}

func TestUploadCARv2WithIndex(t *testing.T) {
	e := newCAREnv(t, nil)
	_, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	root, all := cartest.DAG(t, 5, 500)
	// An identity link inside the DAG is read from its CID.
	inline := cartest.Identity(t, []byte("inline"))
	top := cartest.Node(t, 2, root.Cid(), inline)
	dir := t.TempDir()
	v1 := filepath.Join(dir, "v1.car")
	if err := os.WriteFile(v1, cartest.CAR(t, []cid.Cid{top.Cid()}, append([]blocks.Block{top}, all...)...), 0o600); err != nil {
		t.Fatal(err)
	}
	v2 := filepath.Join(dir, "v2.car")
	if err := car.WrapV1File(v1, v2); err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile(v2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(body, car.Pragma) {
		t.Fatal("not a CARv2")
	}
	res := MustResults(t, e.upload(t, token, "", bytes.NewReader(body)))
	if ps := res.Results[0]; ps.Status != tack.StatusPinned || ps.Pin.CID != top.Cid().String() || ps.Info["blocks"] != "8" {
		t.Errorf("got %+v, want %s pinned with 8 blocks (one inline)", ps, top.Cid())
	}
	// The index was read off: the connection serves the next request.
	MustResults(t, e.do(t, "GET", "/pins", token, ""))
}

func TestUploadCARAccess(t *testing.T) {
	e := newCAREnv(t, nil)
	_, token := e.MustAccount(t, "a@example.com", tack.AccessRequested)
	root, all := cartest.DAG(t, 1, 10)
	body := cartest.CAR(t, []cid.Cid{root.Cid()}, all...)
	MustFailure(t, e.upload(t, token, "", bytes.NewReader(body)), http.StatusForbidden, "PINNING_NOT_AUTHORIZED")
	MustFailure(t, e.upload(t, "nonsense", "", bytes.NewReader(body)), http.StatusUnauthorized, "UNAUTHORIZED")
	_, ok := e.MustAccount(t, "b@example.com", tack.AccessApproved)
	MustFailure(t, e.upload(t, ok, "?origin=nonsense", bytes.NewReader(body)), http.StatusBadRequest, "BAD_REQUEST")
	MustFailure(t, e.upload(t, ok, "?meta=[1]", bytes.NewReader(body)), http.StatusBadRequest, "BAD_REQUEST")
	MustFailure(t, e.do(t, "GET", "/car", ok, ""), http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
}

func TestUploadCARTooLarge(t *testing.T) {
	e := newCAREnv(t, func(s *tackhttp.Server) { s.MaxUpload = 10_000 })
	acct, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	root, all := cartest.DAG(t, 5, 3000)
	body := cartest.CAR(t, []cid.Cid{root.Cid()}, all...)
	// With a Content-Length: at once.
	MustFailure(t, e.upload(t, token, "", bytes.NewReader(body)), http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE")
	// Streamed (chunked): once past the limit.
	MustFailure(t, e.upload(t, token, "", io.MultiReader(bytes.NewReader(body))), http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE")
	if reqs := e.MustPins(t, acct); len(reqs) != 0 {
		t.Errorf("got %d requests, want none", len(reqs))
	}
	// At the limit exactly, it is taken.
	root, all = cartest.DAG(t, 3, 3000)
	body = cartest.CAR(t, []cid.Cid{root.Cid()}, all...)
	e2 := newCAREnv(t, func(s *tackhttp.Server) { s.MaxUpload = int64(len(body)) })
	_, token2 := e2.MustAccount(t, "a@example.com", tack.AccessApproved)
	MustResults(t, e2.upload(t, token2, "", io.MultiReader(bytes.NewReader(body))))
}

func TestUploadCARQuota(t *testing.T) {
	e := newCAREnv(t, nil)
	e.im.Limits = tack.Limits{MaxBytes: 5000}
	acct, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	root, all := cartest.DAG(t, 4, 1000)
	MustResults(t, e.upload(t, token, "", bytes.NewReader(cartest.CAR(t, []cid.Cid{root.Cid()}, all...))))
	// 4,000-odd bytes stored: the next 2,000 do not fit.
	root, all = cartest.DAG(t, 2, 1001)
	details := MustFailure(t, e.upload(t, token, "", bytes.NewReader(cartest.CAR(t, []cid.Cid{root.Cid()}, all...))), http.StatusConflict, "INSUFFICIENT_FUNDS")
	if !strings.Contains(details, "5000") {
		t.Errorf("details %q do not name the limit", details)
	}
	if reqs := e.MustPins(t, acct); len(reqs) != 1 {
		t.Errorf("got %d requests, want 1", len(reqs))
	}
}

// slowBody sends head, then blocks until release is closed, then sends
// the rest (or fails if fail is set).
type slowBody struct {
	head, rest []byte
	release    chan struct{}
	fail       bool
	sent       chan struct{}
}

func (b *slowBody) Read(p []byte) (int, error) {
	if len(b.head) > 0 {
		n := copy(p, b.head)
		b.head = b.head[n:]
		return n, nil
	}
	if b.sent != nil {
		close(b.sent)
		b.sent = nil
	}
	<-b.release
	if b.fail {
		return 0, fmt.Errorf("the client gives up")
	}
	if len(b.rest) == 0 {
		return 0, io.EOF
	}
	n := copy(p, b.rest)
	b.rest = b.rest[n:]
	return n, nil
}

func TestUploadCARDisconnect(t *testing.T) {
	e := newCAREnv(t, nil)
	acct, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	root, all := cartest.DAG(t, 50, 5000)
	body := cartest.CAR(t, []cid.Cid{root.Cid()}, all...)
	// A raw connection that sends half the body and closes.
	u, _ := url.Parse(e.url)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /car HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/vnd.ipld.car\r\nContent-Length: %d\r\n\r\n", token, len(body))
	conn.Write(body[:len(body)/2])
	time.Sleep(100 * time.Millisecond)
	conn.Close()
	// The upload ends without a request (the server sees the body end
	// short of its Content-Length at once); the whole CAR is taken after.
	time.Sleep(300 * time.Millisecond)
	if reqs := e.MustPins(t, acct); len(reqs) != 0 {
		t.Fatalf("a cut-off upload made %d requests", len(reqs))
	}
	if kept, _ := e.db.FindKeptUploads(context.Background()); len(kept) != 0 {
		t.Errorf("a cut-off upload left keep lists %v", kept)
	}
	MustResults(t, e.upload(t, token, "", bytes.NewReader(body)))
}

func TestUploadCARStall(t *testing.T) {
	e := newCAREnv(t, func(s *tackhttp.Server) { s.UploadIdle = 300 * time.Millisecond })
	acct, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	root, all := cartest.DAG(t, 5, 100)
	body := cartest.CAR(t, []cid.Cid{root.Cid()}, all...)
	release := make(chan struct{})
	defer close(release)
	start := time.Now()
	details := MustFailure(t, e.upload(t, token, "", &slowBody{head: body[:100], rest: body[100:], release: release}), http.StatusRequestTimeout, "REQUEST_TIMEOUT")
	if !strings.Contains(details, "stalled") {
		t.Errorf("details %q", details)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %s to cut off", d)
	}
	if reqs := e.MustPins(t, acct); len(reqs) != 0 {
		t.Errorf("got %d requests, want none", len(reqs))
	}
}

func TestUploadCARSlots(t *testing.T) {
	e := newCAREnv(t, func(s *tackhttp.Server) { s.MaxUploads = 1; s.MaxInFlight = 1 })
	_, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	root, all := cartest.DAG(t, 5, 100)
	body := cartest.CAR(t, []cid.Cid{root.Cid()}, all...)
	release := e.holdUpload(t, token, body)
	// A second upload finds no slot; the API's one slot is free.
	r := e.upload(t, token, "", bytes.NewReader(body))
	MustFailure(t, r, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE")
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	MustResults(t, e.do(t, "GET", "/pins", token, ""))
	release()
}

func TestUploadCARPerAccount(t *testing.T) {
	e := newCAREnv(t, func(s *tackhttp.Server) { s.MaxUploads = 2 })
	_, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	_, other := e.MustAccount(t, "b@example.com", tack.AccessApproved)
	root, all := cartest.DAG(t, 5, 100)
	body := cartest.CAR(t, []cid.Cid{root.Cid()}, all...)
	release := e.holdUpload(t, token, body)
	// The account holds its share of the slots; another account does not.
	r := e.upload(t, token, "", bytes.NewReader(body))
	MustFailure(t, r, http.StatusTooManyRequests, "TOO_MANY_REQUESTS")
	if r.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	MustResults(t, e.upload(t, other, "", bytes.NewReader(body)))
	release()
	MustResults(t, e.upload(t, token, "", bytes.NewReader(body)))
}

func TestUploadCARContentType(t *testing.T) {
	e := newCAREnv(t, nil)
	_, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	root, all := cartest.DAG(t, 1, 10)
	req, _ := http.NewRequest("POST", e.url+"/car", bytes.NewReader(cartest.CAR(t, []cid.Cid{root.Cid()}, all...)))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var f tackhttp.Failure
	if resp.StatusCode != http.StatusBadRequest || json.Unmarshal(b, &f) != nil || !strings.Contains(f.Error.Details, "application/vnd.ipld.car") {
		t.Errorf("got %d %s", resp.StatusCode, b)
	}
}

// An upload whose client goes away mid-body takes back what it stored.
func TestUploadCARDisconnectLeavesNoBlocks(t *testing.T) {
	e := newCAREnv(t, nil)
	acct, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	root, all := cartest.DAG(t, 60, 100_000)
	body := cartest.CAR(t, []cid.Cid{root.Cid()}, all...)
	u, _ := url.Parse(e.url)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /car HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/vnd.ipld.car\r\nContent-Length: %d\r\n\r\n", token, len(body))
	conn.Write(body[:len(body)*3/4])
	// Wait until the server has stored some of it, then go away.
	deadline := time.Now().Add(time.Minute)
	for cartest.Stored(t, e.bs, all) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the server stored none of the body")
		}
		time.Sleep(10 * time.Millisecond)
	}
	conn.Close()
	for cartest.Stored(t, e.bs, all) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d blocks of the cut-off upload are still stored", cartest.Stored(t, e.bs, all))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if reqs := e.MustPins(t, acct); len(reqs) != 0 {
		t.Fatalf("a cut-off upload made %d requests", len(reqs))
	}
}
