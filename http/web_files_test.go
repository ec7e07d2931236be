package http_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"

	"github.com/tack-ipfs/tack"
	tackhttp "github.com/tack-ipfs/tack/http"
)

// filesFormBody writes the pins page's Upload files form: csrf, name,
// then a part named "file" for each path=data pair (an empty path is an
// input left empty).
func filesFormBody(tb testing.TB, csrf, name string, pathsAndData ...string) (*bytes.Buffer, string) {
	tb.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("csrf", csrf)
	mw.WriteField("name", name)
	for i := 0; i+1 < len(pathsAndData); i += 2 {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="%s"`, pathsAndData[i]))
		h.Set("Content-Type", "application/octet-stream")
		p, err := mw.CreatePart(h)
		if err != nil {
			tb.Fatal(err)
		}
		p.Write([]byte(pathsAndData[i+1]))
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

// filesForm posts the pins page's Upload files form.
func (b *browser) filesForm(tb testing.TB, csrf, name string, asJSON bool, pathsAndData ...string) page {
	tb.Helper()
	body, ct := filesFormBody(tb, csrf, name, pathsAndData...)
	req, err := http.NewRequest("POST", b.e.url+"/dashboard/files", body)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	if asJSON {
		req.Header.Set("Accept", "application/json")
	}
	return b.send(tb, req)
}

func TestUploadFilesWebForm(t *testing.T) {
	e := newWebCAREnv(t)
	b, acct := e.MustOperator(t, "op@example.com")
	MustSee(t, "pins page", b.get(t, "/dashboard"), http.StatusOK, "Upload files", `action="/dashboard/files"`,
		`name="file" id="files-folder" webkitdirectory multiple`, `name="file" id="files-files" multiple`)

	// The page's script: JSON answers. An input left empty is skipped.
	p := b.filesForm(t, b.csrf, "", true, "album/a.txt", "a", "album/sub/b.txt", "b", "", "")
	if p.status != http.StatusOK {
		t.Fatalf("got %d %s", p.status, p.body)
	}
	var res tackhttp.PinResults
	if err := json.Unmarshal([]byte(p.body), &res); err != nil || len(res.Results) != 1 {
		t.Fatalf("decode %s: %v", p.body, err)
	}
	ps := res.Results[0]
	if ps.Status != tack.StatusPinned || ps.Pin.Name != "album" {
		t.Errorf("got %+v, want pinned, named album", ps)
	}
	MustSee(t, "pins page after", b.get(t, "/dashboard"), http.StatusOK, ps.Pin.CID, "album", "pinned")

	// Without the script: back to the pins page.
	MustRedirect(t, "form without script", b.filesForm(t, b.csrf, "named", false, "c.txt", "c"), "/dashboard")

	// Refusals: the API's error body with the script, an error page
	// without; nothing stored.
	p = b.filesForm(t, b.csrf, "", true, "../x", "x")
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, `\"..\"`) {
		t.Errorf("path trick: got %d %s", p.status, p.body)
	}
	p = b.filesForm(t, b.csrf, "", false, "../x", "x")
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, "&#34;../x&#34;") || strings.Contains(p.body, `"../x"`) {
		t.Errorf("path trick without script: got %d %s, want an error page quoting the path escaped", p.status, p.body)
	}
	if p := b.filesForm(t, b.csrf, "", true); p.status != http.StatusBadRequest || !strings.Contains(p.body, "no files") {
		t.Errorf("no files: got %d %s", p.status, p.body)
	}
	if p := b.filesForm(t, b.csrf, "", true, "<script>alert(1)</script>", "x", "<script>alert(1)</script>", "y"); p.status != http.StatusBadRequest {
		t.Errorf("twice: got %d %s", p.status, p.body)
	}
	p = b.filesForm(t, b.csrf, "", false, "<b>x</b>", "x", "<b>x</b>", "y")
	if p.status != http.StatusBadRequest || strings.Contains(p.body, "<b>x</b>") {
		t.Errorf("a name in an error page is not escaped: got %d %s", p.status, p.body)
	}

	// A wrong CSRF token, another browser, another site: refused.
	if p := b.filesForm(t, "wrong", "", true, "d.txt", "d"); p.status != http.StatusForbidden {
		t.Errorf("wrong csrf: got %d %s", p.status, p.body)
	}
	stranger := e.browser(t)
	stranger.get(t, "/signin")
	if p := stranger.filesForm(t, stranger.csrf, "", true, "d.txt", "d"); p.status != http.StatusUnauthorized {
		t.Errorf("signed out: got %d %s", p.status, p.body)
	}
	req, _ := http.NewRequest("POST", e.url+"/dashboard/files", strings.NewReader(""))
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	if p := b.send(t, req); p.status != http.StatusForbidden {
		t.Errorf("cross-site: got %d %s", p.status, p.body)
	}
	reqs, n, err := e.db.FindPins(t.Context(), tack.PinFilter{AccountID: acct.ID, Limit: 100})
	if err != nil || n != 2 {
		t.Errorf("got %d requests %v (%v), want the two uploaded", n, reqs, err)
	}

	// An account without pinning access sees no form and cannot post.
	u := e.MustSignUp(t, "user@example.com")
	if strings.Contains(u.get(t, "/dashboard").body, "Upload files") {
		t.Error("the form is shown to an account without pinning access")
	}
	if p := u.filesForm(t, u.csrf, "", true, "d.txt", "d"); p.status != http.StatusForbidden {
		t.Errorf("no access: got %d %s", p.status, p.body)
	}
}
