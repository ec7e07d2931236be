package http_test

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multibase"
	"github.com/tack-ipfs/tack"
	tackhttp "github.com/tack-ipfs/tack/http"
)

var pageError = regexp.MustCompile(`<p class="error" role="alert">([^<]*)</p>`)

// mustPageError returns the error a page shows, unescaped.
func mustPageError(tb testing.TB, what string, p page) string {
	tb.Helper()
	m := pageError.FindStringSubmatch(p.body)
	if m == nil {
		tb.Fatalf("%s: the page shows no error (status %d):\n%s", what, p.status, p.body)
	}
	return html.UnescapeString(m[1])
}

// The Pin a CID form refuses what POST /pins refuses, with the same status
// and the same message, because it runs the same checks.
func TestWebPinFormRefusals(t *testing.T) {
	e := newWebEnv(t, nil)
	alice, acct, token := e.MustApprovedUser(t, "alice@example.com")
	ipns := MustEncode(t, MustCID(t, cid.Libp2pKey, "k"), multibase.Base36)
	for _, tc := range []struct {
		name string
		form url.Values
		want string // in the message
	}{
		{"no cid", url.Values{"name": {"x"}}, "cid is required"},
		{"empty cid", url.Values{"cid": {"  "}}, "cid is required"},
		{"bad cid", url.Values{"cid": {"not-a-cid"}}, "is not a valid CID"},
		{"ipns path", url.Values{"cid": {"/ipns/example.com"}}, "pinning IPNS names is not supported"},
		{"ipns key", url.Values{"cid": {ipns}}, "libp2p-key"},
		{"unsupported codec", url.Values{"cid": {MustCID(t, 0x78, "g").String()}}, "IPLD codec not supported: git-raw"},
		{"long name", url.Values{"cid": {"bafkqaaa"}, "name": {strings.Repeat("n", 256)}}, "name"},
		{"bad origin", url.Values{"cid": {"bafkqaaa"}, "origins": {"/ip4/192.0.2.1/tcp/4001\nnot-an-address"}}, `"not-an-address" is not a multiaddr`},
		{"twice the same origin", url.Values{"cid": {"bafkqaaa"}, "origins": {origin + "\n" + origin}}, "is given twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := map[string]any{}
			if v, ok := tc.form["cid"]; ok {
				body["cid"] = v[0]
			}
			if v := tc.form.Get("name"); v != "" {
				body["name"] = v
			}
			if v := strings.Fields(tc.form.Get("origins")); len(v) > 0 {
				body["origins"] = v
			}
			b, _ := json.Marshal(body)
			details := MustFailure(t, e.do(t, "POST", "/pins", token, string(b)), http.StatusBadRequest, "BAD_REQUEST")
			if !strings.Contains(details, tc.want) {
				t.Fatalf("API: %q lacks %q", details, tc.want)
			}
			alice.get(t, "/dashboard")
			p := alice.post(t, "/dashboard/pins", tc.form)
			if p.status != http.StatusBadRequest {
				t.Fatalf("form: status %d, want 400", p.status)
			}
			if got := mustPageError(t, "form", p); got != details {
				t.Errorf("form says %q, the API %q", got, details)
			}
			// The form keeps what was sent.
			if c := tc.form.Get("cid"); c != "" && strings.TrimSpace(c) != "" && !strings.Contains(p.body, `name="cid" value="`+html.EscapeString(strings.TrimSpace(c))+`"`) {
				t.Errorf("the form lost the CID %q", c)
			}
		})
	}
	if r := MustResults(t, e.do(t, "GET", "/pins?status=queued,pinning,pinned,failed", token, "")); r.Count != 0 {
		t.Fatalf("refused forms stored %d requests", r.Count)
	}

	// Over the account's limit of pending requests: the store's 409.
	max := int64(1)
	if err := e.db.SetAccountLimits(context.Background(), acct.ID, &max, nil); err != nil {
		t.Fatal(err)
	}
	c1, _ := mustCID(t)
	MustRedirect(t, "the first pin", alice.post(t, "/dashboard/pins", url.Values{"cid": {c1}}), "/dashboard?notice=queued")
	c2, _ := mustCID(t)
	details := MustFailure(t, e.do(t, "POST", "/pins", token, `{"cid":"`+c2+`"}`), http.StatusConflict, "INSUFFICIENT_FUNDS")
	alice.get(t, "/dashboard")
	p := alice.post(t, "/dashboard/pins", url.Values{"cid": {c2}})
	if p.status != http.StatusConflict {
		t.Fatalf("over the limit: status %d, want 409", p.status)
	}
	if got := mustPageError(t, "over the limit", p); got != details {
		t.Errorf("over the limit, the form says %q, the API %q", got, details)
	}

	// An account without approved access: the API's 403 and its words.
	for _, access := range []tack.Access{tack.AccessNone, tack.AccessRequested, tack.AccessDenied} {
		bob, bobAcct, bobToken := e.MustApprovedUser(t, string(access)+"bob@example.com")
		if err := e.db.SetAccountAccess(context.Background(), bobAcct.ID, access, ""); err != nil {
			t.Fatal(err)
		}
		details := MustFailure(t, e.do(t, "POST", "/pins", bobToken, `{"cid":"`+c2+`"}`), http.StatusForbidden, "PINNING_NOT_AUTHORIZED")
		p := bob.get(t, "/dashboard")
		if strings.Contains(p.body, `id="pin-form"`) {
			t.Errorf("%s: the pins page offers the Pin a CID form", access)
		}
		p = bob.post(t, "/dashboard/pins", url.Values{"cid": {c2}})
		if p.status != http.StatusForbidden {
			t.Fatalf("%s: status %d, want 403", access, p.status)
		}
		if got := mustPageError(t, string(access), p); got != details {
			t.Errorf("%s: the form says %q, the API %q", access, got, details)
		}
	}
}

// A new user pins a CID with the form, replaces it and removes it, as the
// API would; others see none of it.
func TestWebPinForms(t *testing.T) {
	e := newWebEnv(t, func(w *tackhttp.Web) { w.GatewayURL = "http://localhost:8081" })
	alice, _, token := e.MustApprovedUser(t, "alice@example.com")
	ctx := context.Background()

	MustSee(t, "the form", alice.get(t, "/dashboard"), http.StatusOK, `id="pin-form"`, `action="/dashboard/pins"`)
	MustSee(t, "no CSRF token", alice.post(t, "/dashboard/pins", url.Values{"cid": {"bafkqaaa"}, "csrf": {""}}), http.StatusForbidden, "This form has expired")

	c, key := mustCID(t)
	name := `<script>alert("photos")</script>`
	queued, _ := e.notes.get()
	MustRedirect(t, "pin", alice.post(t, "/dashboard/pins", url.Values{"cid": {" " + c + " "}, "name": {name}, "origins": {origin + "\r\n\r\n"}}), "/dashboard?notice=queued")
	if n, _ := e.notes.get(); n != queued+1 {
		t.Errorf("the pinner was woken %d times, want once", n-queued)
	}
	res := MustResults(t, e.do(t, "GET", "/pins?status=queued,pinning,pinned,failed", token, ""))
	if res.Count != 1 {
		t.Fatalf("%d requests, want 1", res.Count)
	}
	st := res.Results[0]
	if st.Pin.CID != c || st.Pin.Name != name || len(st.Pin.Origins) != 1 || st.Pin.Origins[0] != origin || st.Status != tack.StatusQueued {
		t.Fatalf("stored %+v", st)
	}
	p := alice.get(t, "/dashboard?notice=queued")
	MustSee(t, "pins page", p, http.StatusOK, "Pin request queued", `href="/dashboard/pins/`+st.RequestID+`"`,
		`action="/dashboard/pins/`+st.RequestID+`/replace"`, `action="/dashboard/pins/`+st.RequestID+`/remove"`, "&lt;script&gt;")
	if strings.Contains(p.body, name) {
		t.Error("the name is not escaped")
	}
	if strings.Contains(p.body, "/ipfs/"+c) {
		t.Error("a queued request links to the gateway")
	}

	// Its page: what GET /pins/{requestid} says, and more.
	page := "/dashboard/pins/" + st.RequestID
	p = alice.get(t, page)
	MustSee(t, "its page", p, http.StatusOK, c, st.RequestID, "queued", origin, delegate, "none failed", `data-refresh`,
		`ipfs pin remote add --service=tack --name=&#39;&lt;script&gt;alert(&#34;photos&#34;)&lt;/script&gt;&#39; `+c, `&#34;requestid&#34;: &#34;`+st.RequestID+`&#34;`)
	if strings.Contains(p.body, name) {
		t.Error("the name is not escaped on the request's page")
	}
	for k, want := range map[string]string{"X-Frame-Options": "DENY", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
		if got := p.header.Get(k); got != want {
			t.Errorf("the request's page: %s %q, want %q", k, got, want)
		}
	}
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("the request's page: Content-Security-Policy %q", csp)
	}
	MustSee(t, "remove without a CSRF token", alice.post(t, page+"/remove", url.Values{"confirm": {"yes"}, "csrf": {""}}), http.StatusForbidden, "This form has expired")
	MustSee(t, "replace without a CSRF token", alice.post(t, page+"/replace", url.Values{"cid": {"bafkqaaa"}, "csrf": {""}}), http.StatusForbidden, "This form has expired")
	MustStatus(t, e.do(t, "GET", "/pins/"+st.RequestID, token, ""), http.StatusOK)

	// Pinned: links to the gateway and a CAR.
	if err := e.db.CompleteDAG(ctx, &tack.DAG{Key: key, Blocks: 3, Bytes: 3 << 20}); err != nil {
		t.Fatal(err)
	}
	p = alice.get(t, page)
	MustSee(t, "pinned", p, http.StatusOK, "pinned", "3 blocks", "3.0 MiB", `href="http://localhost:8081/ipfs/`+c+`/"`, `href="/ipfs/`+c+`?format=car"`)
	if strings.Contains(p.body, "data-refresh") {
		t.Error("a pinned request's page refreshes itself")
	}
	MustSee(t, "pinned row", alice.get(t, "/dashboard"), http.StatusOK, `href="http://localhost:8081/ipfs/`+c+`/"`, `href="/ipfs/`+c+`?format=car"`)

	// Bob sees none of it and changes none of it.
	bob, _, _ := e.MustApprovedUser(t, "bob@example.com")
	MustSee(t, "bob's look", bob.get(t, page), http.StatusNotFound)
	bob.get(t, "/dashboard")
	c2, _ := mustCID(t)
	MustSee(t, "bob's replace", bob.post(t, page+"/replace", url.Values{"cid": {c2}}), http.StatusNotFound)
	MustSee(t, "bob's remove", bob.post(t, page+"/remove", url.Values{"confirm": {"yes"}}), http.StatusNotFound)
	MustStatus(t, e.do(t, "GET", "/pins/"+st.RequestID, token, ""), http.StatusOK)
	MustSee(t, "no such request", alice.get(t, "/dashboard/pins/not-a-uuid"), http.StatusNotFound)
	MustRedirect(t, "signed out", e.browser(t).get(t, page), "/signin?expired=1&next="+url.QueryEscape(page))

	// Replace from the row: a new request in the old one's place, with
	// the old one's meta; a refused replacement changes nothing.
	if err := e.db.DeletePin(ctx, mustAccountByEmail(t, e, "alice@example.com").ID, st.RequestID); err != nil {
		t.Fatal(err)
	}
	st = MustStatus(t, e.do(t, "POST", "/pins", token, `{"cid":"`+c+`","name":"photos","meta":{"app":"camera"}}`), http.StatusAccepted)
	page = "/dashboard/pins/" + st.RequestID
	alice.get(t, "/dashboard")
	details := MustFailure(t, e.do(t, "POST", "/pins/"+st.RequestID, token, `{"cid":"/ipns/example.com"}`), http.StatusBadRequest, "BAD_REQUEST")
	p = alice.post(t, page+"/replace", url.Values{"cid": {"/ipns/example.com"}})
	if got := mustPageError(t, "bad replacement", p); p.status != http.StatusBadRequest || got != details {
		t.Errorf("bad replacement: %d %q, the API %q", p.status, got, details)
	}
	p = alice.post(t, page+"/replace", url.Values{"cid": {"/ipns/example.com"}, "from": {"pin"}})
	if got := mustPageError(t, "bad replacement from its page", p); p.status != http.StatusBadRequest || got != details {
		t.Errorf("bad replacement from its page: %d %q, the API %q", p.status, got, details)
	}
	_, removedBefore := e.notes.get()
	MustRedirect(t, "replace", alice.post(t, page+"/replace", url.Values{"cid": {c2}, "name": {"photos v2"}}), "/dashboard?notice=replaced")
	if _, removed := e.notes.get(); len(removed) != len(removedBefore)+1 || removed[len(removed)-1] != st.RequestID {
		t.Errorf("the pinner was told of removals %v", removed)
	}
	MustFailure(t, e.do(t, "GET", "/pins/"+st.RequestID, token, ""), http.StatusNotFound, "NOT_FOUND")
	res = MustResults(t, e.do(t, "GET", "/pins?status=queued,pinning,pinned,failed", token, ""))
	if res.Count != 1 || res.Results[0].Pin.CID != c2 || res.Results[0].Pin.Name != "photos v2" || res.Results[0].Pin.Meta["app"] != "camera" {
		t.Fatalf("after replace: %+v", res)
	}
	st = res.Results[0]
	page = "/dashboard/pins/" + st.RequestID

	// From its page, a replacement leads to the new request's page.
	c3, _ := mustCID(t)
	alice.get(t, page)
	p = alice.post(t, page+"/replace", url.Values{"cid": {c3}, "from": {"pin"}})
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/dashboard/pins/") || !strings.HasSuffix(p.location, "?notice=replaced") {
		t.Fatalf("replace from its page: %d to %q", p.status, p.location)
	}
	page = strings.TrimSuffix(p.location, "?notice=replaced")
	MustSee(t, "the new request's page", alice.get(t, p.location), http.StatusOK, c3, "Pin request replaced")

	// Remove asks first, then removes.
	id := strings.TrimPrefix(page, "/dashboard/pins/")
	MustSee(t, "remove, asked", alice.post(t, page+"/remove", nil), http.StatusOK, "Remove this pin?", `name="confirm" value="yes"`)
	MustStatus(t, e.do(t, "GET", "/pins/"+id, token, ""), http.StatusOK)
	MustRedirect(t, "remove, confirmed", alice.post(t, page+"/remove", url.Values{"confirm": {"yes"}}), "/dashboard?notice=removed")
	MustFailure(t, e.do(t, "GET", "/pins/"+id, token, ""), http.StatusNotFound, "NOT_FOUND")
	MustSee(t, "after removal", alice.get(t, "/dashboard?notice=removed"), http.StatusOK, "Pin request removed.", "No pins yet.")
	MustSee(t, "remove again", alice.post(t, page+"/remove", url.Values{"confirm": {"yes"}}), http.StatusNotFound)
}

// A request's page shows its attempts and next try, and why it failed.
func TestWebPinPageAttempts(t *testing.T) {
	e := newWebEnv(t, nil)
	alice, acct, _ := e.MustApprovedUser(t, "alice@example.com")
	ctx := context.Background()
	c, key := mustCID(t)
	req := &tack.PinRequest{AccountID: acct.ID, Pin: tack.Pin{CID: c}, Key: key, Status: tack.StatusQueued}
	if err := e.db.CreatePin(ctx, req); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.ClaimPins(ctx, "worker", 1, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.RenewLeases(ctx, "worker", []string{req.ID}, time.Now().Add(time.Hour), tack.Progress{Blocks: 7, Bytes: 5000, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	page := "/dashboard/pins/" + req.ID
	MustSee(t, "pinning", alice.get(t, page), http.StatusOK, "fetching: 7 blocks, 5000 bytes so far", "7 blocks, 4.9 KiB (5,000 bytes)", "data-refresh")
	retry := time.Now().Add(time.Hour).UTC()
	if err := e.db.RetryPins(ctx, "worker", []tack.Retry{{ID: req.ID, At: retry}}, "no provider found for 1m0s", tack.Progress{}); err != nil {
		t.Fatal(err)
	}
	MustSee(t, "waiting to retry", alice.get(t, page), http.StatusOK, "1 without the DAG", "next try "+retry.Format("2006-01-02 15:04 UTC"), "no provider found for 1m0s")
	// Another request fails.
	c, key = mustCID(t)
	req = &tack.PinRequest{AccountID: acct.ID, Pin: tack.Pin{CID: c}, Key: key, Status: tack.StatusQueued}
	if err := e.db.CreatePin(ctx, req); err != nil {
		t.Fatal(err)
	}
	if claimed, err := e.db.ClaimPins(ctx, "worker", 1, time.Now().Add(time.Hour)); err != nil || len(claimed) != 1 || claimed[0].ID != req.ID {
		t.Fatalf("claimed %v, %v", claimed, err)
	}
	if err := e.db.FailPins(ctx, "worker", []string{req.ID}, "no provider found for 10m0s"); err != nil {
		t.Fatal(err)
	}
	page = "/dashboard/pins/" + req.ID
	MustSee(t, "failed", alice.get(t, page), http.StatusOK, "Why it failed", "no provider found for 10m0s", "failed")
}
