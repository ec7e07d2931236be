package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/tack-ipfs/tack"
	tackhttp "github.com/tack-ipfs/tack/http"
)

// FuzzWebForms sends whatever the fuzzer makes, as the body of every form
// and as the query of every page, from a signed-in operator with a valid
// CSRF token: no input may get a 500 or a panic.
func FuzzWebForms(f *testing.F) {
	for _, seed := range []string{
		"email=alice%40example.com&password=correct+horse",
		"email=&password=",
		"name=laptop",
		"name=ci&scope=read",
		"name=x&scope=%00admin&scope=full",
		"what=photos&volume=1+GB&cids=bafkqaaa%0A%2Fipns%2Fx",
		"decision=approve&message=hi",
		"blocked=true",
		"current=a&password=b",
		"current=operator+password&password=operator+password&revoke_tokens=on",
		"status=pinned&name=x&before=2026-11-24T10%3A00%3A00Z",
		"status=%00&before=9999999999-99",
		"next=%2F%2Fevil&invite=%ff",
		"%zz&&==",
		"cid=bafkqaaa&name=x&origins=%2Fip4%2F192.0.2.1%2Ftcp%2F4001%0Anope",
		"cid=%2Fipns%2Fexample.com&from=pin",
		"confirm=yes",
	} {
		f.Add(uint8(0), seed)
	}
	e := newWebEnv(f, func(w *tackhttp.Web) { w.SignInLimit.Rate = 1e9; w.SignInLimit.Burst = 1e9 })
	op, operator := e.MustOperator(f, "op@example.com")
	op.get(f, "/tokens")
	other := &tack.Account{Email: "other@example.com"}
	if err := e.db.CreateAccount(context.Background(), other); err != nil {
		f.Fatal(err)
	}
	// The operator's own request, for the forms of a request.
	mine := &tack.PinRequest{AccountID: operator.ID, Pin: tack.Pin{CID: "bafkqaaa"}, Key: "bafkqaaa", Status: tack.StatusQueued}
	if err := e.db.CreatePin(context.Background(), mine); err != nil {
		f.Fatal(err)
	}
	targets := []string{
		"POST /signin", "POST /signup", "POST /tokens", "POST /tokens/x/revoke", "POST /access",
		"POST /password", "POST /admin/accounts/" + itoa(other.ID) + "/access", "POST /admin/accounts/" + itoa(other.ID) + "/block",
		"POST /admin/invites", "POST /admin/accounts/" + itoa(other.ID) + "/reset", "POST /reset", "GET /reset",
		"GET /dashboard", "GET /signin", "GET /signup", "GET /admin", "GET /access",
		"POST /dashboard/pins", "POST /dashboard/pins/" + mine.ID + "/replace", "POST /dashboard/pins/" + mine.ID + "/remove",
		"GET /dashboard/pins/" + mine.ID,
	}
	f.Fuzz(func(t *testing.T, which uint8, input string) {
		method, path, _ := strings.Cut(targets[int(which)%len(targets)], " ")
		var req *http.Request
		var err error
		if method == "GET" {
			req, err = http.NewRequest("GET", e.url+path, nil)
			if err == nil {
				req.URL.RawQuery = rawQuery(input)
			}
		} else {
			body := "csrf=" + url.QueryEscape(op.csrf) + "&" + input
			req, err = http.NewRequest("POST", e.url+path, strings.NewReader(body))
		}
		if err != nil {
			t.Skip(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := op.client.Do(req.WithContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s with %q: %d", method, path, input, resp.StatusCode)
		}
		// Keep the operator signed in and able to send forms: a password
		// change or sign-in may have replaced its session.
		if _, err := e.db.FindAccountByID(context.Background(), operator.ID); err != nil {
			t.Fatal(err)
		}
	})
}

// rawQuery is input as a query string that a client can send: bytes that
// may not appear in a request line are percent-encoded, the rest (broken
// escapes included) go as they are.
func rawQuery(input string) string {
	var b strings.Builder
	for i := 0; i < len(input); i++ {
		c := input[i]
		if c <= ' ' || c == 0x7f || c >= 0x80 || c == '#' {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// FuzzSafeNext: whatever next= a link carries, the sign-in sends the
// browser to "" (the default page) or to a path of this site: one that
// starts with a single "/", holds no backslash or control character, has
// no scheme or host, is already clean (so http.Redirect sends it as it
// is), and resolves against the site's address to the site itself.
func FuzzSafeNext(f *testing.F) {
	for _, seed := range []string{
		"/tokens", "/dashboard?status=queued&name=caf%C3%A9", "/a/../\\evil.test/", "/./\\evil.test",
		"//evil.test", "/\\evil.test", "/%2f%2fevil.test", "/%5cevil.test", "https://evil.test/",
		"javascript:alert(1)", "/\t/evil.test", "/tokens?x=%0d%0a", "/tokens/../admin", "/admin?x=//evil",
	} {
		f.Add(seed)
	}
	site, err := url.Parse("http://127.0.0.1:8080/signin")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := tackhttp.SafeNext(next)
		if got == "" {
			return
		}
		if got != next {
			t.Fatalf("SafeNext(%q) = %q: want next itself or nothing", next, got)
		}
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.ContainsAny(got, "\\#") {
			t.Fatalf("SafeNext(%q) = %q: not a single-slash path without backslashes", next, got)
		}
		for _, c := range []byte(got) {
			if c < 0x20 || c >= 0x7f {
				t.Fatalf("SafeNext(%q) = %q: holds byte %#x", next, got, c)
			}
		}
		u, err := url.Parse(got)
		if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
			t.Fatalf("SafeNext(%q) = %q: parses to %#v, %v", next, got, u, err)
		}
		if strings.Contains(u.Path, "\\") || strings.Contains(u.RawQuery, "\\") || path.Clean(u.Path) != u.Path {
			t.Fatalf("SafeNext(%q) = %q: path %q is not clean", next, got, u.Path)
		}
		if dest := site.ResolveReference(u); dest.Host != site.Host || dest.Scheme != site.Scheme {
			t.Fatalf("SafeNext(%q) = %q: resolves to %s", next, got, dest)
		}
		w := httptest.NewRecorder()
		http.Redirect(w, httptest.NewRequest("POST", "/signin", nil), got, http.StatusSeeOther)
		if loc := w.Header().Get("Location"); loc != got {
			t.Fatalf("SafeNext(%q) = %q: http.Redirect sends Location %q", next, got, loc)
		}
		if again := tackhttp.SafeNext(got); again != got {
			t.Fatalf("SafeNext(%q) = %q, but SafeNext of that is %q", next, got, again)
		}
	})
}

// FuzzWebUploadForms sends the pins page's upload forms with whatever
// paths, names and contents the fuzzer makes, and whatever raw bodies,
// from a signed-in operator with a valid CSRF token: no input may get a
// 500 or a panic, and every refusal is an error in the API's format.
func FuzzWebUploadForms(f *testing.F) {
	for _, seed := range []struct {
		raw              bool
		name, path, data string
	}{
		{false, "", "site/index.html", "<h1>hi</h1>"},
		{false, "x", "../../etc/passwd", "x"},
		{false, "", "/abs", ""},
		{false, "", "a//b", "x"},
		{false, "\xff", "a\\b", "x"},
		{false, "", "", ""},
		{false, "", "a/\x00b", "x"},
		{true, "", "", "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nabc"},
		{true, "", "", "--B\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n"},
	} {
		f.Add(seed.raw, seed.name, seed.path, seed.data)
	}
	e := newWebCAREnv(f)
	op, _ := e.MustOperator(f, "op@example.com")
	op.get(f, "/dashboard")
	f.Fuzz(func(t *testing.T, raw bool, name, path, data string) {
		for _, target := range []string{"/dashboard/files", "/dashboard/car"} {
			var body *bytes.Buffer
			ct := "multipart/form-data; boundary=B"
			if raw {
				body = bytes.NewBufferString(strings.ReplaceAll(data, "CSRF", op.csrf))
			} else {
				var buf bytes.Buffer
				mw := multipart.NewWriter(&buf)
				mw.WriteField("csrf", op.csrf)
				mw.WriteField("name", name)
				field := "file"
				if target == "/dashboard/car" {
					field = "car"
				}
				h := textproto.MIMEHeader{}
				h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename="%s"`, field, strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\r", "", "\n", "").Replace(path)))
				p, err := mw.CreatePart(h)
				if err != nil {
					t.Skip(err)
				}
				p.Write([]byte(data))
				mw.Close()
				body, ct = &buf, mw.FormDataContentType()
			}
			req, err := http.NewRequest("POST", e.url+target, body)
			if err != nil {
				t.Skip(err)
			}
			req.Header.Set("Content-Type", ct)
			req.Header.Set("Accept", "application/json")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			resp, err := op.client.Do(req.WithContext(ctx))
			if err != nil {
				cancel()
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			cancel()
			if resp.StatusCode >= 500 {
				t.Fatalf("%s with %q %q %q: %d %s", target, name, path, data, resp.StatusCode, b)
			}
			if resp.StatusCode != http.StatusOK {
				var fail tackhttp.Failure
				if err := json.Unmarshal(b, &fail); err != nil || fail.Error.Reason == "" || fail.Error.Details == "" {
					t.Fatalf("%s with %q %q %q: %d %q is not an error body", target, name, path, data, resp.StatusCode, b)
				}
			}
		}
	})
}
