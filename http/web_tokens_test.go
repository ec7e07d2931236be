package http_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	tackhttp "github.com/tack-ipfs/tack/http"
)

// Creating tokens is rate-limited per account: past TokenCreateBurst in a
// row the token page answers 429 with Retry-After and says to wait,
// creating nothing; another account is not held back, and the account's
// bucket refills with time.
func TestWebTokenCreateLimit(t *testing.T) {
	e := newWebEnv(t, nil)
	alice := e.MustSignUp(t, "alice@example.com")
	bob := e.MustSignUp(t, "bob@example.com")
	acct := mustAccountByEmail(t, e, "alice@example.com")
	for range tackhttp.TokenCreateBurst {
		alice.MustCreateToken(t, "a machine")
	}
	p := alice.post(t, "/tokens", url.Values{"name": {"one more"}})
	MustSee(t, "a token too many in a row", p, http.StatusTooManyRequests, "This account created", "Wait", `value="one more"`)
	if p.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	tokens, err := e.db.FindTokens(context.Background(), acct.ID)
	if err != nil || len(tokens) != tackhttp.TokenCreateBurst {
		t.Errorf("%d tokens (%v), want %d", len(tokens), err, tackhttp.TokenCreateBurst)
	}
	bob.MustCreateToken(t, "bob's machine")
	e.advance(time.Hour)
	alice.MustCreateToken(t, "an hour later")
}
