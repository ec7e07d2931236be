package http_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tack-ipfs/tack"
	tackhttp "github.com/tack-ipfs/tack/http"
)

// TestWebPasswordResetTokens: a reset link's form says that a reset signs
// out every browser but leaves API tokens working unless its box is
// ticked; both choices do what it says.
func TestWebPasswordResetTokens(t *testing.T) {
	for _, revoke := range []bool{false, true} {
		t.Run(map[bool]string{false: "tokens kept", true: "tokens revoked"}[revoke], func(t *testing.T) {
			e := newWebEnv(t, nil)
			op, _ := e.MustOperator(t, "op@example.com")
			_, acct, token := e.MustApprovedUser(t, "alice@example.com")
			_, _, bobToken := e.MustApprovedUser(t, "bob@example.com")
			op.get(t, "/admin")
			link := mustLink(t, op.post(t, "/admin/accounts/"+itoa(acct.ID)+"/reset", nil), "/reset?code=")
			code, err := url.ParseQuery(strings.TrimPrefix(link, "/reset?"))
			if err != nil {
				t.Fatal(err)
			}
			b := e.browser(t)
			MustSee(t, "reset page", b.get(t, link), http.StatusOK,
				"signs out every browser", "API tokens keep working", `name="revoke_tokens"`)
			form := url.Values{"code": {code.Get("code")}, "password": {"staple battery"}}
			notice := "/tokens?notice=password-changed"
			if revoke {
				form.Set("revoke_tokens", "on")
				notice = "/tokens?notice=password-changed-tokens-revoked"
			}
			MustRedirect(t, "reset", b.post(t, "/reset", form), notice)
			if revoke {
				MustSee(t, "the notice", b.get(t, notice), http.StatusOK, "every API token of this account was revoked")
				MustFailure(t, e.do(t, "GET", "/pins", token, ""), http.StatusUnauthorized, "UNAUTHORIZED")
			} else {
				MustSee(t, "the notice", b.get(t, notice), http.StatusOK, "Your password was changed")
				MustResults(t, e.do(t, "GET", "/pins", token, ""))
			}
			MustResults(t, e.do(t, "GET", "/pins", bobToken, ""))
		})
	}
}

// TestWebChangePasswordTokens: the same choice when changing the password.
func TestWebChangePasswordTokens(t *testing.T) {
	for _, revoke := range []bool{false, true} {
		t.Run(map[bool]string{false: "tokens kept", true: "tokens revoked"}[revoke], func(t *testing.T) {
			e := newWebEnv(t, nil)
			alice, _, token := e.MustApprovedUser(t, "alice@example.com")
			_, _, bobToken := e.MustApprovedUser(t, "bob@example.com")
			MustSee(t, "password form", alice.get(t, "/tokens"), http.StatusOK,
				"signs out every other browser", "API tokens keep working", `name="revoke_tokens"`)
			form := url.Values{"current": {"correct horse"}, "password": {"staple battery"}}
			notice := "/tokens?notice=password-changed"
			if revoke {
				form.Set("revoke_tokens", "on")
				notice = "/tokens?notice=password-changed-tokens-revoked"
			}
			// A wrong current password revokes nothing.
			MustSee(t, "wrong current password", alice.post(t, "/password", url.Values{"current": {"wrong"}, "password": {"staple battery"}, "revoke_tokens": {"on"}}), http.StatusUnauthorized)
			MustResults(t, e.do(t, "GET", "/pins", token, ""))
			MustRedirect(t, "change", alice.post(t, "/password", form), notice)
			if revoke {
				p := alice.get(t, notice)
				MustSee(t, "the notice", p, http.StatusOK, "every API token of this account was revoked", "revoked 20")
				if strings.Contains(p.body, ">Revoke</button>") {
					t.Error("a token still has a Revoke button")
				}
				MustFailure(t, e.do(t, "GET", "/pins", token, ""), http.StatusUnauthorized, "UNAUTHORIZED")
			} else {
				MustSee(t, "the notice", alice.get(t, notice), http.StatusOK, "Your password was changed")
				MustResults(t, e.do(t, "GET", "/pins", token, ""))
			}
			MustResults(t, e.do(t, "GET", "/pins", bobToken, ""))
		})
	}
}

// revokeFails is the real store, except that revoking every token of an
// account on its own fails, as a write can.
type revokeFails struct{ tack.Store }

func (revokeFails) RevokeTokens(context.Context, int64) (int, error) {
	return 0, errors.New("disk I/O error")
}

// TestWebPasswordResetRevokesInItsTransaction: a reset with the revoke
// box ticked revokes the tokens in the transaction that sets the password
// and uses the link up, so that it cannot set the password and then fail
// to revoke, leaving the tokens working with the link gone.
func TestWebPasswordResetRevokesInItsTransaction(t *testing.T) {
	e := newWebEnv(t, func(w *tackhttp.Web) { w.Store = revokeFails{w.Store} })
	op, _ := e.MustOperator(t, "op@example.com")
	_, acct, token := e.MustApprovedUser(t, "alice@example.com")
	op.get(t, "/admin")
	link := mustLink(t, op.post(t, "/admin/accounts/"+itoa(acct.ID)+"/reset", nil), "/reset?code=")
	code, err := url.ParseQuery(strings.TrimPrefix(link, "/reset?"))
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser(t)
	b.get(t, link)
	form := url.Values{"code": {code.Get("code")}, "password": {"staple battery"}, "revoke_tokens": {"on"}}
	MustRedirect(t, "reset", b.post(t, "/reset", form), "/tokens?notice=password-changed-tokens-revoked")
	MustFailure(t, e.do(t, "GET", "/pins", token, ""), http.StatusUnauthorized, "UNAUTHORIZED")
}
