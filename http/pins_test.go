package http_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multibase"
	mh "github.com/multiformats/go-multihash"
	"github.com/tack-ipfs/tack"
	tackhttp "github.com/tack-ipfs/tack/http"
	"golang.org/x/time/rate"
)

var createdRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)

// pinBody is the JSON body of a POST for a raw CID of data.
func pinBody(tb testing.TB, data string) string {
	return `{"cid":"` + MustCID(tb, cid.Raw, data).String() + `"}`
}

// ops are the five operations of the API, each with a valid request.
func ops(tb testing.TB, id string) []struct{ method, path, body string } {
	return []struct{ method, path, body string }{
		{"GET", "/pins", ""},
		{"POST", "/pins", pinBody(tb, "op")},
		{"GET", "/pins/" + id, ""},
		{"POST", "/pins/" + id, pinBody(tb, "op2")},
		{"DELETE", "/pins/" + id, ""},
	}
}

func TestUnauthorized(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	acct, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	id := e.MustCreate(t, token, pinBody(t, "x")).RequestID
	revoked, revokedTok, err := e.auth.Issue(ctx, acct.ID, "revoked")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.RevokeToken(ctx, acct.ID, revokedTok.ID); err != nil {
		t.Fatal(err)
	}
	forged := token[:len(token)-4] + "AAAA"

	cases := []struct {
		name    string
		headers []string
	}{
		{"missing", nil},
		{"purposefullyInvalid", []string{"Authorization", "Bearer purposefullyInvalid"}},
		{"bad signature", []string{"Authorization", "Bearer " + forged}},
		{"revoked", []string{"Authorization", "Bearer " + revoked}},
		{"basic scheme", []string{"Authorization", "Basic " + token}},
		{"bearer without token", []string{"Authorization", "Bearer "}},
		{"token without scheme", []string{"Authorization", token}},
		{"cookie only", []string{"Cookie", "token=" + token + "; session=" + token}},
	}
	for _, c := range cases {
		for _, op := range ops(t, id) {
			t.Run(c.name+"/"+op.method+" "+op.path, func(t *testing.T) {
				r := e.do(t, op.method, op.path, "", op.body, c.headers...)
				MustFailure(t, r, http.StatusUnauthorized, "UNAUTHORIZED")
				if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Errorf("got WWW-Authenticate %q", got)
				}
			})
		}
	}
	// Nothing above changed the pin.
	MustStatus(t, e.do(t, "GET", "/pins/"+id, token, ""), http.StatusOK)
	// The scheme is case-insensitive.
	MustResults(t, e.do(t, "GET", "/pins", "", "", "Authorization", "bearer "+token))
}

func TestForbidden(t *testing.T) {
	e := newEnv(t, nil)
	for _, access := range []tack.Access{tack.AccessNone, tack.AccessRequested, tack.AccessDenied} {
		acct, token := e.MustAccount(t, string(access)+"@example.com", access)
		// A pin made while approved, so that get, replace and delete have a
		// real target.
		if err := e.db.SetAccountAccess(context.Background(), acct.ID, tack.AccessApproved, ""); err != nil {
			t.Fatal(err)
		}
		id := e.MustCreate(t, token, pinBody(t, "x")).RequestID
		if err := e.db.SetAccountAccess(context.Background(), acct.ID, access, ""); err != nil {
			t.Fatal(err)
		}
		for _, op := range ops(t, id) {
			t.Run(string(access)+"/"+op.method+" "+op.path, func(t *testing.T) {
				details := MustFailure(t, e.do(t, op.method, op.path, token, op.body), http.StatusForbidden, "PINNING_NOT_AUTHORIZED")
				if !strings.Contains(details, accessURL) {
					t.Errorf("details %q do not name %s", details, accessURL)
				}
			})
		}
	}
}

func TestCreatePin(t *testing.T) {
	e := newEnv(t, nil)
	_, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	c := MustCID(t, cid.Raw, "hello")
	b36 := MustEncode(t, c, multibase.Base36)
	body := `{"cid":"` + b36 + `","name":"photos","origins":["` + origin + `"],"meta":{"app":"x"},"unknown":1}`
	// No Content-Type at all: the body is JSON, so it is accepted.
	r := e.do(t, "POST", "/pins", token, body, "Content-Type", "")
	ps := MustStatus(t, r, http.StatusAccepted)

	if u, err := uuid.Parse(ps.RequestID); err != nil || u.Version() != 4 || u.String() != ps.RequestID {
		t.Errorf("requestid %q is not a UUIDv4", ps.RequestID)
	}
	if ps.Status != tack.StatusQueued {
		t.Errorf("got status %q, want queued", ps.Status)
	}
	if !createdRE.MatchString(ps.Created) {
		t.Errorf("created %q is not UTC with exactly microseconds", ps.Created)
	}
	wantPin := tackhttp.Pin{CID: b36, Name: "photos", Origins: []string{origin}, Meta: map[string]string{"app": "x"}}
	if !reflect.DeepEqual(ps.Pin, wantPin) {
		t.Errorf("got pin %+v, want %+v", ps.Pin, wantPin)
	}
	if !reflect.DeepEqual(ps.Delegates, []string{delegate}) {
		t.Errorf("got delegates %v", ps.Delegates)
	}
	if ps.Info["status_details"] == "" {
		t.Errorf("got info %v, want status_details", ps.Info)
	}
	if queued, _ := e.notes.get(); queued != 1 {
		t.Errorf("Notifier.Queued called %d times, want 1", queued)
	}

	// GET answers the same object; the same CID again is a new request.
	got := MustStatus(t, e.do(t, "GET", "/pins/"+ps.RequestID, token, ""), http.StatusOK)
	if !reflect.DeepEqual(got, ps) {
		t.Errorf("GET got  %+v\nPOST got %+v", got, ps)
	}
	again := e.MustCreate(t, token, `{"cid":"`+c.String()+`"}`)
	if again.RequestID == ps.RequestID {
		t.Errorf("the same CID got the same requestid twice")
	}
	if again.Created <= ps.Created {
		t.Errorf("created %s not after %s", again.Created, ps.Created)
	}
	// Optional fields that were not sent are left out.
	r = e.do(t, "GET", "/pins/"+again.RequestID, token, "")
	if s := string(r.body); strings.Contains(s, `"name"`) || strings.Contains(s, `"origins"`) || strings.Contains(s, `"meta"`) {
		t.Errorf("unset fields in %s", s)
	}
}

func TestNoDelegatesIsArray(t *testing.T) {
	e := newEnv(t, func(s *tackhttp.Server) { s.Delegates = nil; s.Notifier = nil })
	_, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	r := e.do(t, "POST", "/pins", token, pinBody(t, "x"))
	if !strings.Contains(string(r.body), `"delegates":[]`) {
		t.Errorf("got %s, want an empty delegates array", r.body)
	}
}

func TestBadRequests(t *testing.T) {
	e := newEnv(t, nil)
	_, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	id := e.MustCreate(t, token, pinBody(t, "x")).RequestID
	ipns := MustEncode(t, MustCID(t, cid.Libp2pKey, "k"), multibase.Base36)
	big := `{"cid":"` + MustCID(t, cid.Raw, "x").String() + `","name":"` + strings.Repeat(" ", tackhttp.MaxBodyBytes) + `"}`

	for _, tt := range []struct {
		name, method, path, body string
		status                   int
		reason, details          string
	}{
		{"limit 0", "GET", "/pins?limit=0", "", 400, "BAD_REQUEST", "limit"},
		{"limit 1001", "GET", "/pins?limit=1001", "", 400, "BAD_REQUEST", "limit"},
		{"limit text", "GET", "/pins?limit=x", "", 400, "BAD_REQUEST", "limit"},
		{"status", "GET", "/pins?status=offloaded", "", 400, "BAD_REQUEST", "status"},
		{"match", "GET", "/pins?name=a&match=regex", "", 400, "BAD_REQUEST", "match"},
		{"name too long", "GET", "/pins?name=" + strings.Repeat("n", 256), "", 400, "BAD_REQUEST", "name"},
		{"11 cids", "GET", "/pins?cid=" + strings.Repeat(MustCID(t, cid.Raw, "x").String()+",", 11), "", 400, "BAD_REQUEST", "cid"},
		{"bad cid", "GET", "/pins?cid=nope", "", 400, "BAD_REQUEST", "cid"},
		{"before", "GET", "/pins?before=yesterday", "", 400, "BAD_REQUEST", "before"},
		{"after", "GET", "/pins?after=2026-11-23", "", 400, "BAD_REQUEST", "after"},
		{"meta boxo", "GET", "/pins?meta=" + url.QueryEscape("map[k:v]"), "", 400, "BAD_REQUEST", "meta"},
		{"meta number", "GET", "/pins?meta=" + url.QueryEscape(`{"k":1}`), "", 400, "BAD_REQUEST", "meta"},
		{"body not json", "POST", "/pins", "cid=x", 400, "BAD_REQUEST", "JSON"},
		{"body empty", "POST", "/pins", "", 400, "BAD_REQUEST", "JSON"},
		{"no cid", "POST", "/pins", `{"name":"x"}`, 400, "BAD_REQUEST", "cid is required"},
		{"bad cid body", "POST", "/pins", `{"cid":"nope"}`, 400, "BAD_REQUEST", "not a valid CID"},
		{"ipns", "POST", "/pins", `{"cid":"` + ipns + `"}`, 400, "BAD_REQUEST", "IPNS"},
		{"ipns path", "POST", "/pins", `{"cid":"/ipns/example.com"}`, 400, "BAD_REQUEST", "IPNS"},
		{"codec", "POST", "/pins", `{"cid":"` + MustCID(t, 0x78, "g").String() + `"}`, 400, "BAD_REQUEST", "codec not supported"},
		{"sha2-256 digest of 20 bytes", "POST", "/pins", `{"cid":"` + MustHashCID(t, cid.Raw, mh.SHA2_256, make([]byte, 20)).String() + `"}`, 400, "BAD_REQUEST", "sha2-256 digests are 32 bytes"},
		{"origin", "POST", "/pins", `{"cid":"` + MustCID(t, cid.Raw, "x").String() + `","origins":["nope"]}`, 400, "BAD_REQUEST", "origins"},
		{"meta value", "POST", "/pins", `{"cid":"` + MustCID(t, cid.Raw, "x").String() + `","meta":{"k":2}}`, 400, "BAD_REQUEST", "meta"},
		{"too large", "POST", "/pins", big, 413, "PAYLOAD_TOO_LARGE", "65536"},
		{"replace bad body", "POST", "/pins/" + id, `{"cid":"nope"}`, 400, "BAD_REQUEST", "not a valid CID"},
		{"replace too large", "POST", "/pins/" + id, big, 413, "PAYLOAD_TOO_LARGE", "65536"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			details := MustFailure(t, e.do(t, tt.method, tt.path, token, tt.body), tt.status, tt.reason)
			if !strings.Contains(details, tt.details) {
				t.Errorf("details %q do not mention %q", details, tt.details)
			}
		})
	}
	// A failed replace leaves the old request alone.
	MustStatus(t, e.do(t, "GET", "/pins/"+id, token, ""), http.StatusOK)
}

func TestNotFound(t *testing.T) {
	e := newEnv(t, nil)
	_, tokenA := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	_, tokenB := e.MustAccount(t, "b@example.com", tack.AccessApproved)
	idB := e.MustCreate(t, tokenB, pinBody(t, "b")).RequestID
	unknown := uuid.NewString()

	for _, tt := range []struct{ name, method, path, body string }{
		{"other account get", "GET", "/pins/" + idB, ""},
		{"other account replace", "POST", "/pins/" + idB, pinBody(t, "new")},
		{"other account delete", "DELETE", "/pins/" + idB, ""},
		{"unknown get", "GET", "/pins/" + unknown, ""},
		{"unknown replace", "POST", "/pins/" + unknown, pinBody(t, "new")},
		{"unknown delete", "DELETE", "/pins/" + unknown, ""},
		{"not a uuid", "GET", "/pins/nope", ""},
		{"upper-case uuid", "GET", "/pins/" + strings.ToUpper(idB), ""},
		{"cid as id", "GET", "/pins/" + MustCID(t, cid.Raw, "b").String(), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			MustFailure(t, e.do(t, tt.method, tt.path, tokenA, tt.body), http.StatusNotFound, "NOT_FOUND")
		})
	}
	// B's pin survived, and A's failed replace created nothing.
	MustStatus(t, e.do(t, "GET", "/pins/"+idB, tokenB, ""), http.StatusOK)
	if res := MustResults(t, e.do(t, "GET", "/pins?status=queued,pinning,pinned,failed", tokenA, "")); res.Count != 0 {
		t.Errorf("account A has %d pins, want 0", res.Count)
	}
}

func TestRoutes(t *testing.T) {
	e := newEnv(t, nil)
	_, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	for _, tt := range []struct {
		method, path string
		status       int
		reason       string
		allow        string
	}{
		{"GET", "/", 404, "NOT_FOUND", ""},
		{"GET", "/pinz", 404, "NOT_FOUND", ""},
		{"GET", "/pins/", 404, "NOT_FOUND", ""},
		{"GET", "/api/v1/pins", 404, "NOT_FOUND", ""},
		{"GET", "/pins/" + uuid.NewString() + "/x", 404, "NOT_FOUND", ""},
		{"PUT", "/pins", 405, "METHOD_NOT_ALLOWED", "GET, HEAD, POST"},
		{"DELETE", "/pins", 405, "METHOD_NOT_ALLOWED", "GET, HEAD, POST"},
		{"PATCH", "/pins/" + uuid.NewString(), 405, "METHOD_NOT_ALLOWED", "GET, HEAD, POST, DELETE"},
		{"PUT", "/pins/" + uuid.NewString(), 405, "METHOD_NOT_ALLOWED", "GET, HEAD, POST, DELETE"},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := e.do(t, tt.method, tt.path, token, "")
			MustFailure(t, r, tt.status, tt.reason)
			if got := r.header.Get("Allow"); got != tt.allow {
				t.Errorf("got Allow %q, want %q", got, tt.allow)
			}
		})
	}
}

func TestMountAndPanic(t *testing.T) {
	var logs strings.Builder
	e := newEnv(t, func(s *tackhttp.Server) {
		s.Logger = newTestLogger(&logs)
	}, func(mux *http.ServeMux) {
		mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"page":"home"}`))
		})
		mux.HandleFunc("GET /boom", func(w http.ResponseWriter, r *http.Request) {
			panic("secret panic value")
		})
	})
	if r := e.do(t, "GET", "/", "", ""); r.status != 200 || string(r.body) != `{"page":"home"}` {
		t.Errorf("mounted route: got %d %s", r.status, r.body)
	}
	MustFailure(t, e.do(t, "GET", "/elsewhere", "", ""), 404, "NOT_FOUND")
	r := e.do(t, "GET", "/boom", "", "")
	if details := MustFailure(t, r, 500, "INTERNAL_SERVER_ERROR"); details != "internal error" {
		t.Errorf("got details %q, want \"internal error\"", details)
	}
	if strings.Contains(string(r.body), "secret") {
		t.Errorf("panic leaked: %s", r.body)
	}
	if !strings.Contains(logs.String(), "secret panic value") {
		t.Errorf("panic not logged: %q", logs.String())
	}
}

func TestInternalErrorNotLeaked(t *testing.T) {
	var logs strings.Builder
	e := newEnv(t, func(s *tackhttp.Server) { s.Logger = newTestLogger(&logs) })
	_, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	e.db.Close() // every store call now fails
	r := e.do(t, "GET", "/pins", token, "")
	if details := MustFailure(t, r, 500, "INTERNAL_SERVER_ERROR"); details != "internal error" {
		t.Errorf("got details %q", details)
	}
	if logs.Len() == 0 {
		t.Errorf("internal error not logged")
	}
}

func TestReplacePin(t *testing.T) {
	e := newEnv(t, nil)
	_, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	old := e.MustCreate(t, token, `{"cid":"`+MustCID(t, cid.Raw, "v1").String()+`","name":"site"}`)
	newCID := MustCID(t, cid.DagProtobuf, "v2").String()
	ps := MustStatus(t, e.do(t, "POST", "/pins/"+old.RequestID, token, `{"cid":"`+newCID+`","name":"site"}`), http.StatusAccepted)
	if ps.RequestID == old.RequestID || ps.RequestID == "" {
		t.Errorf("replace kept requestid %q", ps.RequestID)
	}
	if ps.Pin.CID != newCID || ps.Status != tack.StatusQueued || !createdRE.MatchString(ps.Created) || len(ps.Delegates) != 1 {
		t.Errorf("got %+v", ps)
	}
	MustFailure(t, e.do(t, "GET", "/pins/"+old.RequestID, token, ""), http.StatusNotFound, "NOT_FOUND")
	MustStatus(t, e.do(t, "GET", "/pins/"+ps.RequestID, token, ""), http.StatusOK)
	// Replacing the old one again is a 404.
	MustFailure(t, e.do(t, "POST", "/pins/"+old.RequestID, token, pinBody(t, "v3")), http.StatusNotFound, "NOT_FOUND")

	queued, removed := e.notes.get()
	if queued != 2 || !reflect.DeepEqual(removed, []string{old.RequestID}) {
		t.Errorf("notifier got queued=%d removed=%v, want 2 and [%s]", queued, removed, old.RequestID)
	}
	res := MustResults(t, e.do(t, "GET", "/pins?name=site", token, ""))
	if res.Count != 1 || res.Results[0].RequestID != ps.RequestID {
		t.Errorf("got %+v", res)
	}
}

func TestDeletePin(t *testing.T) {
	e := newEnv(t, nil)
	_, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	id := e.MustCreate(t, token, pinBody(t, "x")).RequestID
	r := e.do(t, "DELETE", "/pins/"+id, token, "")
	if r.status != http.StatusAccepted || len(r.body) != 0 {
		t.Errorf("got %d %q, want 202 and no body", r.status, r.body)
	}
	MustFailure(t, e.do(t, "GET", "/pins/"+id, token, ""), http.StatusNotFound, "NOT_FOUND")
	MustFailure(t, e.do(t, "DELETE", "/pins/"+id, token, ""), http.StatusNotFound, "NOT_FOUND")
	if _, removed := e.notes.get(); !reflect.DeepEqual(removed, []string{id}) {
		t.Errorf("notifier got removed=%v, want [%s]", removed, id)
	}
}

func TestListPins(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	_, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	_, other := e.MustAccount(t, "b@example.com", tack.AccessApproved)
	e.MustCreate(t, other, pinBody(t, "other"))

	empty := e.do(t, "GET", "/pins", token, "")
	if got := strings.TrimSpace(string(empty.body)); got != `{"count":0,"results":[]}` {
		t.Errorf("empty list: got %s", got)
	}

	// 35 pins: 20 pinned (their DAG is held), 15 queued.
	var ids []string
	for i := range 35 {
		c := MustCID(t, cid.Raw, "pin"+strconv.Itoa(i))
		if i%7 < 4 {
			if err := e.db.CompleteDAG(ctx, &tack.DAG{Key: tack.ContentKey(c), Blocks: 1, Bytes: 5}); err != nil {
				t.Fatal(err)
			}
		}
		ps := e.MustCreate(t, token, `{"cid":"`+c.String()+`","name":"Pin `+strconv.Itoa(i)+`","meta":{"n":"`+strconv.Itoa(i%2)+`"}}`)
		ids = append(ids, ps.RequestID)
	}

	for _, tt := range []struct {
		query string
		count int
	}{
		{"", 20}, // default: pinned only
		{"status=pinned", 20},
		{"status=queued", 15},
		{"status=queued,pinning,pinned,failed", 35},
		{"status=pinning", 0},
		{"name=Pin%203", 1}, // a name lookup finds any status
		{"name=pin%203&match=iexact", 1},
		{"name=pin&match=exact", 0},
		{"name=Pin%201&match=partial", 11}, // 1, 10..19
		{"name=pIN%201&match=ipartial", 11},
		{"name=pin%201&match=partial", 0},
		{"cid=" + MustCID(t, cid.Raw, "pin4").String() + "," + MustCID(t, cid.Raw, "pin5").String(), 2},
		{"cid=" + MustEncode(t, MustCID(t, cid.Raw, "pin4"), multibase.Base58BTC), 1},
		{"cid=" + MustCID(t, cid.Raw, "other").String(), 0},
		{"meta=" + url.QueryEscape(`{"n":"1"}`), 17},
		{"meta=" + url.QueryEscape(`{"n":"1"}`) + "&status=pinned", 10},
	} {
		res := MustResults(t, e.do(t, "GET", "/pins?"+tt.query, token, ""))
		if res.Count != tt.count {
			t.Errorf("%s: got count %d, want %d", tt.query, res.Count, tt.count)
		}
		if want := min(tt.count, 10); len(res.Results) != want {
			t.Errorf("%s: got %d results, want %d", tt.query, len(res.Results), want)
		}
	}

	// Page through everything as Kubo does: before = created of the last
	// result, until count == len(results).
	var seen []string
	before := ""
	pages := 0
	for {
		q := "/pins?status=queued,pinning,pinned,failed&limit=10"
		if before != "" {
			q += "&before=" + url.QueryEscape(before)
		}
		res := MustResults(t, e.do(t, "GET", q, token, ""))
		pages++
		if want := 35 - len(seen); res.Count != want {
			t.Fatalf("page %d: got count %d, want %d (count includes before)", pages, res.Count, want)
		}
		for _, ps := range res.Results {
			seen = append(seen, ps.RequestID)
			if before != "" && ps.Created >= before {
				t.Errorf("page %d: created %s not before %s", pages, ps.Created, before)
			}
		}
		if res.Count == len(res.Results) {
			break
		}
		if len(res.Results) == 0 || pages > 10 {
			t.Fatalf("page %d: no progress", pages)
		}
		before = res.Results[len(res.Results)-1].Created
	}
	if pages != 4 {
		t.Errorf("got %d pages, want 4", pages)
	}
	// Newest first, every pin once.
	for i, id := range seen {
		if want := ids[len(ids)-1-i]; id != want {
			t.Fatalf("result %d: got %s, want %s", i, id, want)
		}
	}

	// after and before together, strict on both ends.
	all := MustResults(t, e.do(t, "GET", "/pins?status=queued,pinning,pinned,failed&limit=1000", token, ""))
	newest, oldest := all.Results[0].Created, all.Results[34].Created
	res := MustResults(t, e.do(t, "GET", "/pins?status=queued,pinning,pinned,failed&after="+url.QueryEscape(oldest)+"&before="+url.QueryEscape(newest), token, ""))
	if res.Count != 33 {
		t.Errorf("between oldest and newest: got count %d, want 33", res.Count)
	}
	// A raw '+' offset, as curl would send it, still parses.
	res = MustResults(t, e.do(t, "GET", "/pins?status=queued&before=2999-01-01T00:00:00.5+01:00", token, ""))
	if res.Count != 15 {
		t.Errorf("raw + offset: got count %d, want 15", res.Count)
	}
	// The info of pinned requests carries their size.
	if ps := all.Results[len(all.Results)-1]; ps.Status != tack.StatusPinned || ps.Info["dag_size"] != "5" {
		t.Errorf("oldest: got %+v", ps)
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, func(s *tackhttp.Server) { s.RateLimit = tackhttp.RateLimit{Rate: 0.5, Burst: 3} })
	_, tokenA := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	_, tokenB := e.MustAccount(t, "b@example.com", tack.AccessApproved)
	for range 3 {
		MustResults(t, e.do(t, "GET", "/pins", tokenA, ""))
	}
	r := e.do(t, "GET", "/pins", tokenA, "")
	MustFailure(t, r, http.StatusTooManyRequests, "TOO_MANY_REQUESTS")
	if secs, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || secs < 1 || secs > 2 {
		t.Errorf("got Retry-After %q, want 1 or 2 seconds", r.header.Get("Retry-After"))
	}
	// Another account has its own bucket.
	MustResults(t, e.do(t, "GET", "/pins", tokenB, ""))
	// Unauthenticated requests are refused before the limiter.
	MustFailure(t, e.do(t, "GET", "/pins", "", ""), http.StatusUnauthorized, "UNAUTHORIZED")

	off := newEnv(t, func(s *tackhttp.Server) { s.RateLimit = tackhttp.RateLimit{Rate: rate.Inf} })
	_, token := off.MustAccount(t, "a@example.com", tack.AccessApproved)
	for range 50 {
		MustResults(t, off.do(t, "GET", "/pins?limit=1", token, ""))
	}
}

// TestDefaultRateLimitFitsKubo: `service ls --stat` (4 parallel requests)
// repeated, and polling several pins, never meets a 429 under the default
// rate limit. The 160 requests go at once, more than MaxInFlight's default
// serves together: the limit on requests in flight is raised so that a
// slow machine cannot make this a test of load shedding.
func TestDefaultRateLimitFitsKubo(t *testing.T) {
	e := newEnv(t, func(s *tackhttp.Server) { s.MaxInFlight = 1000 })
	_, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	id := e.MustCreate(t, token, pinBody(t, "x")).RequestID
	var wg sync.WaitGroup
	errs := make(chan string, 200)
	for i := range 40 {
		for _, st := range []string{"queued", "pinning", "pinned", "failed"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				path := "/pins?limit=1&status=" + st
				if i%2 == 1 {
					path = "/pins/" + id
				}
				if r := e.do(t, "GET", path, token, ""); r.status != http.StatusOK {
					errs <- fmt.Sprintf("%s: %d %s", path, r.status, r.body)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestQueuePosition: a queued request says where it stands in the queue of
// every account's requests, on every operation that returns it, so that a
// client of a long queue sees its request move.
func TestQueuePosition(t *testing.T) {
	e := newEnv(t, nil)
	_, ta := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	_, tb := e.MustAccount(t, "b@example.com", tack.AccessApproved)
	first := e.MustCreate(t, ta, `{"cid":"`+MustCID(t, cid.Raw, "one").String()+`"}`)
	if got, want := first.Info["status_details"], "queued: next in line for a worker"; got != want {
		t.Errorf("first request: status_details %q, want %q", got, want)
	}
	second := e.MustCreate(t, tb, `{"cid":"`+MustCID(t, cid.Raw, "two").String()+`"}`)
	if got, want := second.Info["status_details"], "queued: 1 request ahead in the queue"; got != want {
		t.Errorf("second request: status_details %q, want %q", got, want)
	}
	third := e.MustCreate(t, ta, `{"cid":"`+MustCID(t, cid.Raw, "three").String()+`"}`)
	want := "queued: 2 requests ahead in the queue"
	if got := third.Info["status_details"]; got != want {
		t.Errorf("third request: status_details %q, want %q", got, want)
	}
	got := MustStatus(t, e.do(t, "GET", "/pins/"+third.RequestID, ta, ""), http.StatusOK)
	if got.Info["status_details"] != want {
		t.Errorf("GET third: status_details %q, want %q", got.Info["status_details"], want)
	}
	list := MustResults(t, e.do(t, "GET", "/pins?status=queued", ta, ""))
	var details []string
	for _, ps := range list.Results {
		details = append(details, ps.Info["status_details"])
	}
	if wantList := []string{want, "queued: next in line for a worker"}; !reflect.DeepEqual(details, wantList) {
		t.Errorf("list: status_details %q, want %q", details, wantList)
	}
	// Deleting the first moves the others up; replacing the second sends
	// it to the back.
	if r := e.do(t, "DELETE", "/pins/"+first.RequestID, ta, ""); r.status != http.StatusAccepted {
		t.Fatalf("DELETE: %d", r.status)
	}
	replaced := MustStatus(t, e.do(t, "POST", "/pins/"+second.RequestID, tb, `{"cid":"`+MustCID(t, cid.Raw, "four").String()+`"}`), http.StatusAccepted)
	if got, want := replaced.Info["status_details"], "queued: 1 request ahead in the queue"; got != want {
		t.Errorf("replaced request: status_details %q, want %q", got, want)
	}
	got = MustStatus(t, e.do(t, "GET", "/pins/"+third.RequestID, ta, ""), http.StatusOK)
	if want := "queued: next in line for a worker"; got.Info["status_details"] != want {
		t.Errorf("third after delete and replace: status_details %q, want %q", got.Info["status_details"], want)
	}
}

// TestQueueNote: while the node fetches nothing (its pinner paused after a
// full disk), queued requests say why in their status_details, on each
// of the API's answers; once it fetches again, they say nothing of it.
func TestQueueNote(t *testing.T) {
	note := ""
	e := newEnv(t, func(s *tackhttp.Server) { s.QueueNote = func() string { return note } })
	_, tok := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	note = "waiting: no room on the data disk; fetching starts again after 2026-12-07T02:00:00Z"
	ps := e.MustCreate(t, tok, `{"cid":"`+MustCID(t, cid.Raw, "one").String()+`"}`)
	want := "queued: next in line for a worker; " + note
	if got := ps.Info["status_details"]; got != want {
		t.Errorf("POST /pins: status_details %q, want %q", got, want)
	}
	r := e.do(t, "GET", "/pins/"+ps.RequestID, tok, "")
	if r.status != 200 || !strings.Contains(string(r.body), note) {
		t.Errorf("GET /pins/{id}: %d %s, want the note", r.status, r.body)
	}
	r = e.do(t, "GET", "/pins?status=queued", tok, "")
	if r.status != 200 || !strings.Contains(string(r.body), note) {
		t.Errorf("GET /pins: %d %s, want the note", r.status, r.body)
	}
	note = ""
	r = e.do(t, "GET", "/pins/"+ps.RequestID, tok, "")
	if r.status != 200 || strings.Contains(string(r.body), "waiting:") {
		t.Errorf("GET /pins/{id} with no note: %d %s", r.status, r.body)
	}
}
