package http_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/blockstore"
	tackhttp "github.com/tack-ipfs/tack/http"
)

// filesForm writes a form of files, each a part named "file" with its
// path (path=data pairs) as its filename, and returns it with its
// Content-Type.
func filesForm(tb testing.TB, pathsAndData ...string) (body []byte, contentType string) {
	tb.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for i := 0; i+1 < len(pathsAndData); i += 2 {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="%s"`, pathsAndData[i]))
		p, err := w.CreatePart(h)
		if err != nil {
			tb.Fatal(err)
		}
		p.Write([]byte(pathsAndData[i+1]))
	}
	w.Close()
	return buf.Bytes(), w.FormDataContentType()
}

// uploadFiles posts body to /files with the query and returns the answer.
func (e *carEnv) uploadFiles(tb testing.TB, token, query, contentType string, body io.Reader) response {
	tb.Helper()
	req, err := http.NewRequest("POST", e.url+"/files"+query, body)
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func TestUploadFiles(t *testing.T) {
	e := newCAREnv(t, nil)
	acct, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	body, ct := filesForm(t, "site/index.html", "<h1>hi</h1>", "site/css/a.css", "a{}")
	res := MustResults(t, e.uploadFiles(t, token, "?meta=%7B%22app%22%3A%22test%22%7D", ct, bytes.NewReader(body)))
	if res.Count != 1 || len(res.Results) != 1 {
		t.Fatalf("got %d results, want 1", res.Count)
	}
	ps := res.Results[0]
	if ps.Status != tack.StatusPinned || ps.Pin.Name != "site" || ps.Pin.Meta["app"] != "test" || !strings.HasPrefix(ps.Pin.CID, "bafybei") {
		t.Errorf("got %+v, want a pinned dag-pb CIDv1 named site with the meta", ps)
	}
	if pins := e.MustPins(t, acct); len(pins) != 1 || pins[0].ID != ps.RequestID {
		t.Errorf("stored %d requests, want the one answered", len(pins))
	}
	// The same folder again: the same request.
	again := MustResults(t, e.uploadFiles(t, token, "?name=other", ct, bytes.NewReader(body)))
	if again.Results[0].RequestID != ps.RequestID {
		t.Errorf("a second upload of the same folder made request %s, want %s", again.Results[0].RequestID, ps.RequestID)
	}
}

// TestUploadFilesRefused: every refusal is an error in the API's format,
// and leaves no request and no block.
func TestUploadFilesRefused(t *testing.T) {
	e := newCAREnv(t, func(s *tackhttp.Server) { s.MaxUpload = 200_000 })
	acct, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	_, noAccess := e.MustAccount(t, "b@example.com", tack.AccessRequested)
	form := func(pathsAndData ...string) (io.Reader, string) {
		b, ct := filesForm(t, pathsAndData...)
		return bytes.NewReader(b), ct
	}
	deep := strings.Repeat("d/", 64) + "f"
	big := strings.Repeat("x", 300_000)
	for _, c := range []struct {
		name   string
		token  string
		body   func() (io.Reader, string)
		status int
		reason string
		says   string
	}{
		{"no token", "", func() (io.Reader, string) { return form("a", "x") }, 401, "UNAUTHORIZED", "token"},
		{"no access", noAccess, func() (io.Reader, string) { return form("a", "x") }, 403, "PINNING_NOT_AUTHORIZED", "access"},
		{"not a form", token, func() (io.Reader, string) { return strings.NewReader("x"), "application/json" }, 400, "BAD_REQUEST", "multipart/form-data"},
		{"no Content-Type", token, func() (io.Reader, string) { return strings.NewReader("x"), "" }, 400, "BAD_REQUEST", "multipart/form-data"},
		{"empty body", token, func() (io.Reader, string) { return strings.NewReader(""), "multipart/form-data; boundary=B" }, 400, "BAD_REQUEST", "empty"},
		{"bad multipart", token, func() (io.Reader, string) { return strings.NewReader("garbage"), "multipart/form-data; boundary=B" }, 400, "BAD_REQUEST", "cannot be read"},
		{"no files", token, func() (io.Reader, string) { return form() }, 400, "BAD_REQUEST", "no files"},
		{"parent", token, func() (io.Reader, string) { return form("ok/a", "a", "../b", "b") }, 400, "BAD_REQUEST", `".."`},
		{"absolute", token, func() (io.Reader, string) { return form("/etc/passwd", "b") }, 400, "BAD_REQUEST", "absolute"},
		{"duplicate", token, func() (io.Reader, string) { return form("d/a", "a", "d/a", "b") }, 400, "BAD_REQUEST", "twice"},
		{"too deep", token, func() (io.Reader, string) { return form(deep, "b") }, 400, "BAD_REQUEST", "deep"},
		{"too large", token, func() (io.Reader, string) { return form("big", big) }, 413, "PAYLOAD_TOO_LARGE", "limit"},
		{"too large, streamed", token, func() (io.Reader, string) {
			r, ct := form("big", big)
			return io.MultiReader(r), ct
		}, 413, "PAYLOAD_TOO_LARGE", "limit"},
		{"bad name", token, func() (io.Reader, string) {
			r, ct := form("a", "x")
			return r, ct
		}, 400, "BAD_REQUEST", "name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			query := ""
			if c.name == "bad name" {
				query = "?name=" + strings.Repeat("n", 300)
			}
			r, ct := c.body()
			details := MustFailure(t, e.uploadFiles(t, c.token, query, ct, r), c.status, c.reason)
			if !strings.Contains(details, c.says) {
				t.Errorf("details %q do not say %q", details, c.says)
			}
			if pins := e.MustPins(t, acct); len(pins) != 0 {
				t.Errorf("%d requests stored", len(pins))
			}
			if n := countBlocks(t, e.bs); n != 0 {
				t.Errorf("%d blocks stored", n)
			}
		})
	}
}

func TestUploadFilesQuota(t *testing.T) {
	e := newCAREnv(t, nil)
	e.im.Limits = tack.Limits{MaxBytes: 5000}
	acct, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	body, ct := filesForm(t, "d/a", strings.Repeat("a", 3000), "d/b", strings.Repeat("b", 3000))
	MustFailure(t, e.uploadFiles(t, token, "", ct, bytes.NewReader(body)), http.StatusConflict, "INSUFFICIENT_FUNDS")
	if pins := e.MustPins(t, acct); len(pins) != 0 {
		t.Errorf("%d requests stored", len(pins))
	}
}

func TestUploadFilesMethod(t *testing.T) {
	e := newCAREnv(t, nil)
	_, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	r := e.do(t, "GET", "/files", token, "")
	MustFailure(t, r, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
	if got := r.header.Get("Allow"); got != "POST" {
		t.Errorf("Allow %q, want POST", got)
	}
}

// countBlocks counts the blocks bs holds.
func countBlocks(tb testing.TB, bs *blockstore.Local) int {
	tb.Helper()
	ch, err := bs.AllKeysChan(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for range ch {
		n++
	}
	return n
}
