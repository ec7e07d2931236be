package http_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/auth"
	"github.com/tack-ipfs/tack/blockstore"
	"github.com/tack-ipfs/tack/gc"
	tackhttp "github.com/tack-ipfs/tack/http"
	"github.com/tack-ipfs/tack/internal/cartest"
	"github.com/tack-ipfs/tack/unixfsimport"
	"github.com/tack-ipfs/tack/upload"
)

// newWebCAREnv is newWebEnv with uploads into a real blockstore.
func newWebCAREnv(tb testing.TB) *webEnv {
	tb.Helper()
	dir := tb.TempDir()
	bs, err := blockstore.OpenLocal(filepath.Join(dir, "blocks"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { bs.Close() })
	e := &webEnv{now: time.Now()}
	e.web = &tackhttp.Web{
		HashPassword:  auth.HashPassword,
		CheckPassword: auth.CheckPassword,
		Key:           []byte(strings.Repeat("k", 32)),
		PublicURL:     "http://127.0.0.1:8080",
		Now:           e.clock,
		Logger:        slog.New(slog.NewTextHandler(tlog{tb}, nil)),
	}
	e.env = newEnv(tb, func(s *tackhttp.Server) {
		guard, err := gc.NewGuard(bs, s.Store)
		if err != nil {
			tb.Fatal(err)
		}
		im := &upload.Importer{Store: s.Store, Guard: guard, Sync: bs.Sync, Notifier: s.Notifier}
		s.Importer = im
		s.Files = &unixfsimport.Importer{Uploads: im}
		e.web.Store = s.Store
		e.web.Issue = s.Auth.(*auth.Auth).IssueScoped
		e.web.Uploads = s
	}, func(mux *http.ServeMux) { e.web.Mount(mux) })
	return e
}

// uploadForm posts the pins page's upload form: csrf, name, then the file.
func (b *browser) uploadForm(tb testing.TB, csrf, name string, file []byte, asJSON bool) page {
	tb.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("csrf", csrf)
	mw.WriteField("name", name)
	fw, err := mw.CreateFormFile("car", "dag.car")
	if err != nil {
		tb.Fatal(err)
	}
	fw.Write(file)
	mw.Close()
	req, err := http.NewRequest("POST", b.e.url+"/dashboard/car", &buf)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if asJSON {
		req.Header.Set("Accept", "application/json")
	}
	return b.send(tb, req)
}

func TestUploadCARWebForm(t *testing.T) {
	e := newWebCAREnv(t)
	b, acct := e.MustOperator(t, "op@example.com")
	MustSee(t, "pins page", b.get(t, "/dashboard"), http.StatusOK, "Upload a CAR", `action="/dashboard/car"`, `enctype="multipart/form-data"`)
	root, all := cartest.DAG(t, 4, 2000)
	file := cartest.CAR(t, []cid.Cid{root.Cid()}, all...)

	// The page's script: JSON answers.
	p := b.uploadForm(t, b.csrf, "from the page", file, true)
	if p.status != http.StatusOK {
		t.Fatalf("got %d %s", p.status, p.body)
	}
	var res tackhttp.PinResults
	if err := json.Unmarshal([]byte(p.body), &res); err != nil || len(res.Results) != 1 {
		t.Fatalf("decode %s: %v", p.body, err)
	}
	if ps := res.Results[0]; ps.Status != tack.StatusPinned || ps.Pin.Name != "from the page" || ps.Pin.CID != root.Cid().String() {
		t.Errorf("got %+v", ps)
	}
	MustSee(t, "pins page after", b.get(t, "/dashboard"), http.StatusOK, root.Cid().String(), "from the page", "pinned")

	// Without the script: back to the pins page.
	MustRedirect(t, "form without script", b.uploadForm(t, b.csrf, "", file, false), "/dashboard")

	// A bad CAR: the API's error body, naming the block.
	bad := append(cartest.CAR(t, []cid.Cid{root.Cid()}, all[:1]...), cartest.Section(all[1].Cid(), []byte("not it"))...)
	p = b.uploadForm(t, b.csrf, "", bad, true)
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, "block #1") {
		t.Errorf("bad CAR: got %d %s", p.status, p.body)
	}

	// A wrong CSRF token, another browser, another site: refused, nothing
	// stored.
	if p := b.uploadForm(t, "wrong", "", file, true); p.status != http.StatusForbidden {
		t.Errorf("wrong csrf: got %d %s", p.status, p.body)
	}
	stranger := e.browser(t)
	stranger.get(t, "/signin")
	if p := stranger.uploadForm(t, stranger.csrf, "", file, true); p.status != http.StatusUnauthorized {
		t.Errorf("signed out: got %d %s", p.status, p.body)
	}
	req, _ := http.NewRequest("POST", e.url+"/dashboard/car", strings.NewReader(""))
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	if p := b.send(t, req); p.status != http.StatusForbidden {
		t.Errorf("cross-site: got %d %s", p.status, p.body)
	}
	reqs, n, err := e.db.FindPins(t.Context(), tack.PinFilter{AccountID: acct.ID, Limit: 100})
	if err != nil || n != 1 || len(reqs) != 1 {
		t.Errorf("got %d requests (%v), want the one (the second upload reuses it)", n, err)
	}

	// An account without pinning access sees no form and cannot post.
	u := e.MustSignUp(t, "user@example.com")
	MustSee(t, "pins page without access", u.get(t, "/dashboard"), http.StatusOK)
	if strings.Contains(u.get(t, "/dashboard").body, "Upload a CAR") {
		t.Error("the form is shown to an account without pinning access")
	}
	if p := u.uploadForm(t, u.csrf, "", file, true); p.status != http.StatusForbidden {
		t.Errorf("no access: got %d %s", p.status, p.body)
	}
}

// A form streamed past --max-upload gets 413 with the body's reason, not
// what being cut off did to the CAR, and stores nothing.
func TestUploadCARWebFormTooLarge(t *testing.T) {
	e := newWebCAREnv(t)
	e.server.MaxUpload = 20_000
	b, acct := e.MustOperator(t, "op@example.com")
	b.get(t, "/dashboard")
	root, all := cartest.DAG(t, 10, 3000)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("csrf", b.csrf)
	fw, _ := mw.CreateFormFile("car", "dag.car")
	fw.Write(cartest.CAR(t, []cid.Cid{root.Cid()}, all...))
	mw.Close()
	// Without a Content-Length: refused once past the limit, mid-file.
	req, _ := http.NewRequest("POST", e.url+"/dashboard/car", io.MultiReader(&buf))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Accept", "application/json")
	p := b.send(t, req)
	var f tackhttp.Failure
	if p.status != http.StatusRequestEntityTooLarge || json.Unmarshal([]byte(p.body), &f) != nil || !strings.Contains(f.Error.Details, "20000 bytes") {
		t.Errorf("got %d %s, want 413 naming the limit", p.status, p.body)
	}
	if reqs, n, err := e.db.FindPins(t.Context(), tack.PinFilter{AccountID: acct.ID, Limit: 10}); err != nil || n != 0 {
		t.Errorf("got %d requests %v (%v), want none", n, reqs, err)
	}
}
