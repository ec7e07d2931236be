package http_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/tack-ipfs/tack"
	tackhttp "github.com/tack-ipfs/tack/http"
	"github.com/tack-ipfs/tack/internal/cartest"
)

// TestReadOnlyToken is the auth matrix of a read-only token: it lists and
// gets, and every write (the API's three and POST /car) gets 403 in the
// API's error format saying that the token is read-only, changing
// nothing. A full token of the same account still writes.
func TestReadOnlyToken(t *testing.T) {
	e := newCAREnv(t, nil)
	ctx := context.Background()
	acct, full := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	read, _, err := e.auth.IssueScoped(ctx, acct.ID, "monitoring", tack.ScopeRead)
	if err != nil {
		t.Fatal(err)
	}
	id := e.MustCreate(t, full, pinBody(t, "x")).RequestID
	root, all := cartest.DAG(t, 5, 1000)
	carBody := cartest.CAR(t, []cid.Cid{root.Cid()}, all...)

	for _, op := range ops(t, id) {
		t.Run(op.method+" "+op.path, func(t *testing.T) {
			r := e.do(t, op.method, op.path, read, op.body)
			if op.method == "GET" {
				if r.status != http.StatusOK {
					t.Fatalf("got %d %s, want 200", r.status, r.body)
				}
				return
			}
			mustReadOnly(t, r)
		})
	}
	t.Run("POST /car", func(t *testing.T) {
		mustReadOnly(t, e.upload(t, read, "", bytes.NewReader(carBody)))
		if n := cartest.Stored(t, e.bs, all); n != 0 {
			t.Errorf("a refused upload stored %d of %d blocks", n, len(all))
		}
	})
	// A HEAD is a read.
	if r := e.do(t, "HEAD", "/pins/"+id, read, ""); r.status != http.StatusOK {
		t.Errorf("HEAD with a read-only token: %d, want 200", r.status)
	}

	// Nothing changed: the one request, as it was.
	list := MustResults(t, e.do(t, "GET", "/pins?status=queued,pinning,pinned,failed", full, ""))
	if list.Count != 1 || list.Results[0].RequestID != id || list.Results[0].Pin.CID != MustCID(t, cid.Raw, "x").String() {
		t.Errorf("after the refused writes: %+v, want only request %s for x", list, id)
	}
	if n, removed := e.notes.get(); n != 1 || len(removed) != 0 {
		t.Errorf("the pinner was told of %d queued and %d removed requests, want 1 and 0", n, len(removed))
	}
	// The full token of the same account writes.
	MustResults(t, e.upload(t, full, "", bytes.NewReader(carBody)))
	if r := e.do(t, "DELETE", "/pins/"+id, full, ""); r.status != http.StatusAccepted {
		t.Errorf("DELETE with a full token: %d %s, want 202", r.status, r.body)
	}
}

// mustReadOnly checks that r is the 403 of a read-only token.
func mustReadOnly(tb testing.TB, r response) {
	tb.Helper()
	details := MustFailure(tb, r, http.StatusForbidden, "PINNING_NOT_AUTHORIZED")
	if !strings.Contains(details, "read-only") {
		tb.Errorf("details %q do not say the token is read-only", details)
	}
}

// TestReadOnlyRuleCoversNewRoutes: the rule lives in the authentication
// of every API route, by method, so a route added later that writes is
// closed to read-only tokens without saying so, and one that reads is
// open to them.
func TestReadOnlyRuleCoversNewRoutes(t *testing.T) {
	var srv *tackhttp.Server
	reached := 0
	e := newEnv(t, func(s *tackhttp.Server) { srv = s }, func(mux *http.ServeMux) {
		h := srv.Authenticated(func(w http.ResponseWriter, r *http.Request, acct *tack.Account) {
			reached++
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			w.Write([]byte("{}\n"))
		})
		mux.Handle("/later", h)
	})
	acct, full := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	read, _, err := e.auth.IssueScoped(context.Background(), acct.ID, "ci", tack.ScopeRead)
	if err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{"POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
		mustReadOnly(t, e.do(t, method, "/later", read, "x"))
		if r := e.do(t, method, "/later", full, "x"); r.status != http.StatusOK {
			t.Errorf("%s with a full token: %d, want 200", method, r.status)
		}
	}
	for _, method := range []string{"GET", "HEAD"} {
		if r := e.do(t, method, "/later", read, ""); r.status != http.StatusOK {
			t.Errorf("%s with a read-only token: %d, want 200", method, r.status)
		}
	}
	if reached != 7 {
		t.Errorf("the handler ran %d times, want 7 (5 full writes, 2 reads)", reached)
	}
}
