package http_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tack-ipfs/tack"
)

// TestWebTokenScopes: the tokens page makes read-only tokens, says so
// when it shows one and in the list, and the API refuses their writes; a
// form without the choice makes a full token, one with an unknown scope
// makes none.
func TestWebTokenScopes(t *testing.T) {
	e := newWebEnv(t, nil)
	alice, acct, full := e.MustApprovedUser(t, "alice@example.com")

	// The choice is part of the token form, under its CSRF rule.
	MustSee(t, "read-only token form without its CSRF token", alice.post(t, "/tokens", url.Values{"csrf": {""}, "name": {"forged"}, "scope": {"read"}}),
		http.StatusForbidden, "This form has expired")
	alice.get(t, "/tokens")
	p := alice.post(t, "/tokens", url.Values{"name": {"monitoring"}, "scope": {"read"}})
	MustSee(t, "read-only token made", p, http.StatusOK, "shown only this once", "It is <span class=\"badge scope-read\">read-only</span>")
	m := tokenValue.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no token on the page:\n%s", p.body)
	}
	read := m[1]
	MustResults(t, e.do(t, "GET", "/pins", read, ""))
	details := MustFailure(t, e.do(t, "POST", "/pins", read, pinBody(t, "x")), http.StatusForbidden, "PINNING_NOT_AUTHORIZED")
	if !strings.Contains(details, "read-only") {
		t.Errorf("details %q do not say the token is read-only", details)
	}
	MustStatus(t, e.do(t, "POST", "/pins", full, pinBody(t, "x")), http.StatusAccepted)

	list := alice.get(t, "/tokens")
	MustSee(t, "token list", list, http.StatusOK, "<th>Scope</th>", `<td data-label="Scope"><span class="badge scope-read">read-only</span></td>`, `<td data-label="Scope"><span class="badge scope-full">full</span></td>`)

	// An unknown scope: refused, the name kept, no token made.
	p = alice.post(t, "/tokens", url.Values{"name": {"root"}, "scope": {"admin"}})
	MustSee(t, "unknown scope", p, http.StatusBadRequest, "Choose what the token may do", `value="root"`)
	// Without the choice: full.
	alice.get(t, "/tokens")
	MustSee(t, "no scope given", alice.post(t, "/tokens", url.Values{"name": {"old form"}}), http.StatusOK, "shown only this once")
	// A refused read-only form shows the choice again.
	p = alice.post(t, "/tokens", url.Values{"name": {""}, "scope": {"read"}})
	MustSee(t, "nameless read-only token", p, http.StatusBadRequest, `<option value="read" selected>`)

	tokens, err := e.db.FindTokens(context.Background(), acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]tack.Scope{}
	for _, tok := range tokens {
		got[tok.Name] = tok.Scope
	}
	want := map[string]tack.Scope{"laptop": tack.ScopeFull, "monitoring": tack.ScopeRead, "old form": tack.ScopeFull}
	if len(got) != len(want) {
		t.Errorf("tokens %v, want %v", got, want)
	}
	for name, scope := range want {
		if got[name] != scope {
			t.Errorf("token %q has scope %q, want %q", name, got[name], scope)
		}
	}
}
