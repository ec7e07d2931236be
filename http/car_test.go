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
	"github.com/multiformats/go-multihash"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/blockstore"
	"github.com/tack-ipfs/tack/gc"
	tackhttp "github.com/tack-ipfs/tack/http"
	"github.com/tack-ipfs/tack/internal/cartest"
)

// carEnv is a test server that takes uploads into a real on-disk
// blockstore.
type carEnv struct {
	*env
	bs *blockstore.Local
}

func newCAREnv(tb testing.TB, configure func(s *tackhttp.Server)) *carEnv {
	tb.Helper()
	dir := tb.TempDir()
	bs, err := blockstore.OpenLocal(filepath.Join(dir, "blocks"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { bs.Close() })
	e := newEnv(tb, func(s *tackhttp.Server) {
		guard, err := gc.NewGuard(bs, s.Store)
		if err != nil {
			tb.Fatal(err)
		}
		s.Guard, s.Sync = guard, bs.Sync
		if configure != nil {
			configure(s)
		}
	})
	return &carEnv{env: e, bs: bs}
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
	acct, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	root, all := cartest.DAG(t, 20, 3000)
	meta := url.QueryEscape(`{"app":"test"}`)
	res := MustResults(t, e.upload(t, token, "?name=photos&meta="+meta, bytes.NewReader(cartest.CAR(t, []cid.Cid{root.Cid()}, all...))))
	if res.Count != 1 || len(res.Results) != 1 {
		t.Fatalf("got %d results, want 1", res.Count)
	}
	ps := res.Results[0]
	if ps.Status != tack.StatusPinned || ps.Pin.CID != root.Cid().String() || ps.Pin.Name != "photos" || ps.Pin.Meta["app"] != "test" {
		t.Errorf("got %+v, want pinned %s named photos with meta", ps, root.Cid())
	}
	want := int64(0)
	for _, b := range all {
		want += int64(len(b.RawData()))
		got, err := e.bs.Get(context.Background(), b.Cid())
		if err != nil || !bytes.Equal(got.RawData(), b.RawData()) {
			t.Errorf("block %s: %v", b.Cid(), err)
		}
	}
	if ps.Info["dag_size"] != fmt.Sprint(want) || ps.Info["blocks"] != "21" {
		t.Errorf("got info %v, want dag_size %d and 21 blocks", ps.Info, want)
	}
	// It is a request like any other.
	list := MustResults(t, e.do(t, "GET", "/pins", token, ""))
	if list.Count != 1 || list.Results[0].RequestID != ps.RequestID || list.Results[0].Status != tack.StatusPinned {
		t.Errorf("GET /pins: got %+v", list)
	}
	if d, err := e.db.FindDAG(context.Background(), tack.ContentKey(root.Cid())); err != nil || d.Blocks != 21 {
		t.Errorf("FindDAG: %+v, %v", d, err)
	}
	if n, _ := e.notes.get(); n != 0 {
		t.Errorf("the pinner was told of %d queued requests, want none", n)
	}
	_ = acct
}

func TestUploadCARPartialThenSharded(t *testing.T) {
	e := newCAREnv(t, nil)
	acct, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	root, all := cartest.DAG(t, 10, 1000)
	roots := []cid.Cid{root.Cid()}

	// The first shard: the root and half the leaves.
	first := MustResults(t, e.upload(t, token, "?origin=/ip4/198.51.100.7/tcp/4001", bytes.NewReader(cartest.CAR(t, roots, all[:6]...))))
	ps := first.Results[0]
	if ps.Status != tack.StatusQueued || len(ps.Pin.Origins) != 1 {
		t.Fatalf("first shard: got %+v, want queued with the origin", ps)
	}
	if n, _ := e.notes.get(); n != 1 {
		t.Errorf("the pinner was told of %d queued requests, want 1", n)
	}
	// Its blocks are kept for the DAG while it is incomplete.
	kept := 0
	if err := e.db.KeptUploadHashes(context.Background(), tack.ContentKey(root.Cid()), func(hs []uint64) error {
		kept += len(hs)
		return nil
	}); err != nil || kept < 6 {
		t.Errorf("keep list: %d blocks (%v), want 6 at least", kept, err)
	}

	// The second shard: the root again and the other leaves. The same
	// request becomes pinned.
	second := MustResults(t, e.upload(t, token, "", bytes.NewReader(cartest.CAR(t, roots, append([]blocks.Block{root}, all[6:]...)...))))
	if got := second.Results[0]; got.RequestID != ps.RequestID || got.Status != tack.StatusPinned || got.Info["blocks"] != "11" {
		t.Errorf("second shard: got %+v, want request %s pinned with 11 blocks", got, ps.RequestID)
	}
	if reqs := e.MustPins(t, acct); len(reqs) != 1 {
		t.Errorf("got %d requests, want 1", len(reqs))
	}
}

// Shards of one DAG sent at once make one request, pinned.
func TestUploadCARShardsAtOnce(t *testing.T) {
	e := newCAREnv(t, nil)
	acct, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	for round := range 5 {
		root, all := cartest.DAG(t, 400, 1000+round)
		roots := []cid.Cid{root.Cid()}
		shards := [][]byte{
			cartest.CAR(t, roots, all[:200]...),
			cartest.CAR(t, roots, all[200:]...),
		}
		done := make(chan response, 2)
		for _, sh := range shards {
			go func() { done <- e.upload(t, token, "", bytes.NewReader(sh)) }()
		}
		ids := map[string]tack.Status{}
		for range shards {
			ps := MustResults(t, <-done).Results[0]
			ids[ps.RequestID] = ps.Status
		}
		reqs, _, err := e.db.FindPins(context.Background(), tack.PinFilter{AccountID: acct.ID, Keys: []string{tack.ContentKey(root.Cid())}, Limit: 10})
		if err != nil || len(ids) != 1 || len(reqs) != 1 || reqs[0].Status != tack.StatusPinned {
			t.Fatalf("round %d: answers %v, requests %v (%v); want one, pinned", round, ids, reqs, err)
		}
	}
}

// sha256CID is a CID of the codec with a sha2-256 hash of data.
func sha256CID(t *testing.T, codec multicodec.Code, data []byte) cid.Cid {
	c, err := cid.V1Builder{Codec: uint64(codec), MhType: multihash.SHA2_256}.Sum(data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestUploadCARRefused(t *testing.T) {
	e := newCAREnv(t, nil)
	acct, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	root, all := cartest.DAG(t, 3, 100)
	roots := []cid.Cid{root.Cid()}
	good := cartest.CAR(t, roots, all...)
	withSection := func(sec []byte) []byte {
		return append(append(cartest.CAR(t, roots, all[:2]...), sec...), cartest.CAR(t, roots, all[2:]...)[len(cartest.Header(t, roots...)):]...)
	}
	big := make([]byte, tack.MaxBlockSize+1)
	md5, _ := multihash.Sum([]byte("x"), multihash.MD5, -1)
	short, _ := multihash.Sum([]byte("x"), multihash.SHA2_256, 16)
	short20, _ := multihash.Sum([]byte("x"), multihash.SHA2_256, 20)
	v2 := func() []byte {
		// A CARv2 whose inner CARv1 is cut short.
		var buf bytes.Buffer
		buf.Write(car.Pragma)
		h := car.NewHeader(uint64(len(good)))
		h.WriteTo(&buf)
		buf.Write(good[:len(good)-10])
		return buf.Bytes()
	}()
	for _, tc := range []struct {
		name, body string
		want       []string // in the details
	}{
		{"hash mismatch", string(withSection(cartest.Section(cartest.Raw(t, []byte("a")).Cid(), []byte("b")))), []string{"block #2", cartest.Raw(t, []byte("a")).Cid().String(), "does not match"}},
		{"git-raw", string(withSection(cartest.Section(sha256CID(t, multicodec.GitRaw, []byte("blob 1\x00a")), []byte("blob 1\x00a")))), []string{"block #2", "git-raw"}},
		{"dag-jose", string(withSection(cartest.Section(sha256CID(t, multicodec.DagJose, []byte{0xa0}), []byte{0xa0}))), []string{"block #2", "dag-jose"}},
		{"over 2 MiB", string(withSection(cartest.Section(sha256CID(t, multicodec.Raw, big), big))), []string{"block #2", sha256CID(t, multicodec.Raw, big).String(), "2097153 bytes"}},
		{"insecure hash", string(withSection(cartest.Section(cid.NewCidV1(cid.Raw, md5), []byte("x")))), []string{"block #2", "md5"}},
		{"short digest", string(withSection(cartest.Section(cid.NewCidV1(cid.Raw, short), []byte("x")))), []string{"block #2", "16 bytes"}},
		{"sha2-256 truncated to 20 bytes", string(withSection(cartest.Section(cid.NewCidV1(cid.Raw, short20), []byte("x")))), []string{"block #2", "20 bytes", "sha2-256 digests are 32 bytes"}},
		{"identity too long", string(withSection(cartest.Section(mustIdentity(t, make([]byte, 129)), make([]byte, 129)))), []string{"block #2", "identity", "129 bytes"}},
		{"links to git-raw", string(cartest.CAR(t, []cid.Cid{cartest.Node(t, 1, sha256CID(t, multicodec.GitRaw, []byte("x"))).Cid()}, cartest.Node(t, 1, sha256CID(t, multicodec.GitRaw, []byte("x"))))), []string{"links to", "git-raw"}},
		{"not cbor", string(cartest.CAR(t, []cid.Cid{sha256CID(t, multicodec.DagCbor, []byte{0xff})}, mustBlock(t, sha256CID(t, multicodec.DagCbor, []byte{0xff}), []byte{0xff}))), []string{"block #0", "dag-cbor"}},
		{"empty body", "", []string{"empty"}},
		{"not a CAR", "hello, world", []string{"not a CAR"}},
		{"bad header", string(append([]byte{5}, 1, 2, 3, 4, 5)), []string{"not a CAR"}},
		{"zero roots", string(cartest.CAR(t, nil, all...)), []string{"no roots"}},
		{"root of a refused codec", string(cartest.CAR(t, []cid.Cid{sha256CID(t, multicodec.GitRaw, []byte("x"))}, all...)), []string{"root #0", "git-raw"}},
		{"no blocks", string(cartest.Header(t, roots...)), []string{"no blocks"}},
		{"truncated in a block", string(good[:len(good)-10]), []string{"block #3", "ends after"}},
		{"truncated in a section header", string(append(good, 0x80)), []string{"block #4"}},
		{"truncated CARv2", string(v2), []string{"block #3"}},
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

func mustIdentity(t *testing.T, data []byte) cid.Cid {
	mh, err := multihash.Sum(data, multihash.IDENTITY, -1)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(cid.Raw, mh)
}

func mustBlock(t *testing.T, c cid.Cid, data []byte) blocks.Block {
	b, err := blocks.NewBlockWithCid(data, c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestUploadCARv2WithIndex(t *testing.T) {
	e := newCAREnv(t, nil)
	_, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	root, all := cartest.DAG(t, 5, 500)
	// An identity link inside the DAG is read from its CID.
	inline := mustIdentity(t, []byte("inline"))
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
	e := newCAREnv(t, func(s *tackhttp.Server) { s.Limits = tack.Limits{MaxBytes: 5000} })
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

func TestUploadCARPendingLimit(t *testing.T) {
	e := newCAREnv(t, func(s *tackhttp.Server) { s.Limits = tack.Limits{MaxPending: 1} })
	e.db.Limits = tack.Limits{MaxPending: 1}
	acct, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	root, all := cartest.DAG(t, 4, 100)
	partial := cartest.CAR(t, []cid.Cid{root.Cid()}, all[:2]...)
	if ps := MustResults(t, e.upload(t, token, "", bytes.NewReader(partial))).Results[0]; ps.Status != tack.StatusQueued {
		t.Fatalf("got %s, want queued", ps.Status)
	}
	// The same root again reuses the request: no second pending one.
	MustResults(t, e.upload(t, token, "", bytes.NewReader(partial)))
	// Another incomplete DAG would be a second pending request.
	other, all2 := cartest.DAG(t, 4, 101)
	MustFailure(t, e.upload(t, token, "", bytes.NewReader(cartest.CAR(t, []cid.Cid{other.Cid()}, all2[:2]...))), http.StatusConflict, "INSUFFICIENT_FUNDS")
	// Two roots, the second over the limit: the first's new request is
	// deleted again, the upload stores none.
	third, all3 := cartest.DAG(t, 2, 102)
	MustFailure(t, e.upload(t, token, "", bytes.NewReader(cartest.CAR(t, []cid.Cid{third.Cid(), other.Cid()}, append(all3, all2[:2]...)...))), http.StatusConflict, "INSUFFICIENT_FUNDS")
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
	release, sent := make(chan struct{}), make(chan struct{})
	done := make(chan response)
	go func() {
		done <- e.upload(t, token, "", &slowBody{head: body[:100], rest: body[100:], release: release, sent: sent})
	}()
	<-sent
	time.Sleep(50 * time.Millisecond)
	// A second upload finds no slot; the API's one slot is free.
	r := e.upload(t, token, "", bytes.NewReader(body))
	MustFailure(t, r, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE")
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	MustResults(t, e.do(t, "GET", "/pins", token, ""))
	close(release)
	MustResults(t, <-done)
}

func TestUploadCARPerAccount(t *testing.T) {
	e := newCAREnv(t, func(s *tackhttp.Server) { s.MaxUploads = 2 })
	_, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	_, other := e.MustAccount(t, "b@example.com", tack.AccessApproved)
	root, all := cartest.DAG(t, 5, 100)
	body := cartest.CAR(t, []cid.Cid{root.Cid()}, all...)
	release, sent := make(chan struct{}), make(chan struct{})
	done := make(chan response)
	go func() {
		done <- e.upload(t, token, "", &slowBody{head: body[:100], rest: body[100:], release: release, sent: sent})
	}()
	<-sent
	time.Sleep(50 * time.Millisecond)
	// The account holds its share of the slots; another account does not.
	r := e.upload(t, token, "", bytes.NewReader(body))
	MustFailure(t, r, http.StatusTooManyRequests, "TOO_MANY_REQUESTS")
	if r.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	MustResults(t, e.upload(t, other, "", bytes.NewReader(body)))
	close(release)
	MustResults(t, <-done)
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

// A DAG deeper than tack.MaxDAGDepth is refused with the limit named, a
// diamond too, whose shared blocks a walk that took each block at the
// depth it first met it would find near the root; one exactly that deep is
// pinned.
func TestUploadCARTooDeep(t *testing.T) {
	e := newCAREnv(t, nil)
	acct, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	for _, bs := range [][]blocks.Block{cartest.Chain(t, tack.MaxDAGDepth+1), cartest.Diamond(t, tack.MaxDAGDepth+1), cartest.Chain(t, 20_000)} {
		body := cartest.CAR(t, []cid.Cid{bs[0].Cid()}, bs...)
		details := MustFailure(t, e.upload(t, token, "", bytes.NewReader(body)), http.StatusBadRequest, "BAD_REQUEST")
		if !strings.Contains(details, "deeper than 1024 links") {
			t.Errorf("details %q do not name the limit", details)
		}
	}
	if reqs := e.MustPins(t, acct); len(reqs) != 0 {
		t.Errorf("refused uploads made %d requests", len(reqs))
	}
	for _, bs := range [][]blocks.Block{cartest.Chain(t, tack.MaxDAGDepth), cartest.Diamond(t, tack.MaxDAGDepth)} {
		res := MustResults(t, e.upload(t, token, "", bytes.NewReader(cartest.CAR(t, []cid.Cid{bs[0].Cid()}, bs...))))
		if ps := res.Results[0]; ps.Status != tack.StatusPinned || ps.Info["blocks"] != fmt.Sprint(len(bs)) {
			t.Errorf("got %s with %s blocks, want pinned with %d", ps.Status, ps.Info["blocks"], len(bs))
		}
	}
}

// storedOf returns how many of bs the blockstore holds.
func (e *carEnv) storedOf(tb testing.TB, bs []blocks.Block) int {
	tb.Helper()
	n := 0
	for _, b := range bs {
		if ok, err := e.bs.Has(context.Background(), b.Cid()); err != nil {
			tb.Fatal(err)
		} else if ok {
			n++
		}
	}
	return n
}

// A refused upload takes back the blocks it stored, by the time it
// answers, except a block that a pinned DAG holds too, and blocks that
// were stored before it.
func TestUploadCARRefusedLeavesNoBlocks(t *testing.T) {
	e := newCAREnv(t, nil)
	_, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	root, all := cartest.DAG(t, 40, 100_000) // 4 MB: more than one arena
	leaves := all[1:]
	// A pinned DAG shares the first leaf.
	pinned := cartest.Node(t, 1, leaves[0].Cid())
	MustResults(t, e.upload(t, token, "", bytes.NewReader(cartest.CAR(t, []cid.Cid{pinned.Cid()}, pinned, leaves[0]))))
	// A block stored outside any upload, before: not the upload's to take.
	if err := e.bs.Put(context.Background(), leaves[1]); err != nil {
		t.Fatal(err)
	}

	bad := cartest.Section(cartest.Raw(t, []byte("a")).Cid(), []byte("b"))
	git := cartest.Node(t, 9, sha256CID(t, multicodec.GitRaw, []byte("x")))
	chain := cartest.Chain(t, tack.MaxDAGDepth+1)
	for _, tc := range []struct {
		name  string
		body  []byte
		check []blocks.Block // blocks the upload stored new
	}{
		{"a block that does not match its hash", append(cartest.CAR(t, []cid.Cid{root.Cid()}, all...), bad...), leaves[2:]},
		// Refused by the walk, once every block is stored.
		{"a second root linking to git-raw", cartest.CAR(t, []cid.Cid{root.Cid(), git.Cid()}, append(all, git)...), append([]blocks.Block{root, git}, leaves[2:]...)},
		{"too deep", cartest.CAR(t, []cid.Cid{chain[0].Cid()}, append(chain, all...)...), append(chain, leaves[2:]...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			MustFailure(t, e.upload(t, token, "", bytes.NewReader(tc.body)), http.StatusBadRequest, "BAD_REQUEST")
			if n := e.storedOf(t, tc.check); n != 0 {
				t.Errorf("%d of the %d blocks the refused upload stored are still stored", n, len(tc.check))
			}
			if n := e.storedOf(t, leaves[:2]); n != 2 {
				t.Errorf("the refused upload deleted a block that was stored before it (%d of 2 left)", n)
			}
		})
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
	for e.storedOf(t, all) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the server stored none of the body")
		}
		time.Sleep(10 * time.Millisecond)
	}
	conn.Close()
	for e.storedOf(t, all) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d blocks of the cut-off upload are still stored", e.storedOf(t, all))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if reqs := e.MustPins(t, acct); len(reqs) != 0 {
		t.Fatalf("a cut-off upload made %d requests", len(reqs))
	}
}

// The blocks of an incomplete upload count against the account's storage
// limit while its request waits: a CAR that lacks one block cannot be
// sent again and again past the limit. Once the request is deleted they
// stop counting; once the DAG is whole its size counts instead.
func TestUploadCARQuotaCountsKept(t *testing.T) {
	const limit = 2 << 20
	e := newCAREnv(t, func(s *tackhttp.Server) { s.Limits = tack.Limits{MaxBytes: limit} })
	e.db.Limits = tack.Limits{MaxBytes: limit}
	acct, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	incomplete := func(seed int) (root blocks.Block, all []blocks.Block, body []byte) {
		root, all = cartest.DAG(t, 15, 100_000+seed) // 1.5 MB
		return root, all, cartest.CAR(t, []cid.Cid{root.Cid()}, all[:len(all)-1]...)
	}
	root1, all1, body1 := incomplete(1)
	ps := MustResults(t, e.upload(t, token, "", bytes.NewReader(body1))).Results[0]
	if ps.Status != tack.StatusQueued {
		t.Fatalf("got %s, want queued", ps.Status)
	}
	u, err := e.db.FindUsage(context.Background(), acct.ID)
	if err != nil || u.Kept < 14*100_000 || u.Bytes != 0 {
		t.Fatalf("usage after an incomplete upload: %+v, %v; want its 1.4 MB kept", u, err)
	}
	// A second incomplete DAG does not fit beside the first.
	_, _, body2 := incomplete(2)
	details := MustFailure(t, e.upload(t, token, "", bytes.NewReader(body2)), http.StatusConflict, "INSUFFICIENT_FUNDS")
	if !strings.Contains(details, "incomplete uploads") {
		t.Errorf("details %q do not say that incomplete uploads hold the room", details)
	}
	// The missing block completes the first: its size counts instead.
	res := MustResults(t, e.upload(t, token, "", bytes.NewReader(cartest.CAR(t, []cid.Cid{root1.Cid()}, all1[len(all1)-1]))))
	if res.Results[0].Status != tack.StatusPinned {
		t.Fatalf("got %s, want pinned", res.Results[0].Status)
	}
	if u, _ := e.db.FindUsage(context.Background(), acct.ID); u.Kept != 0 || u.Bytes < 15*100_000 {
		t.Fatalf("usage once the DAG is whole: %+v; want its size pinned, nothing kept", u)
	}
	// Deleting the pin makes room; a given-up incomplete upload frees its
	// room too.
	mustDelete(t, e, token, res.Results[0].RequestID)
	ps = MustResults(t, e.upload(t, token, "", bytes.NewReader(body2))).Results[0]
	MustFailure(t, e.upload(t, token, "", bytes.NewReader(body1)), http.StatusConflict, "INSUFFICIENT_FUNDS")
	mustDelete(t, e, token, ps.RequestID)
	if u, _ := e.db.FindUsage(context.Background(), acct.ID); u.Stored() != 0 {
		t.Fatalf("usage after every request was deleted: %+v, want nothing", u)
	}
	MustResults(t, e.upload(t, token, "", bytes.NewReader(body1)))
}

// mustDelete deletes the request through the API.
func mustDelete(tb testing.TB, e *carEnv, token, id string) {
	tb.Helper()
	if r := e.do(tb, "DELETE", "/pins/"+id, token, ""); r.status != http.StatusAccepted {
		tb.Fatalf("DELETE /pins/%s: %d %s", id, r.status, r.body)
	}
}
