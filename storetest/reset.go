package storetest

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/tack-ipfs/tack"
)

// MustCreatePasswordReset creates a reset link for the account with a
// random ID, expiring at expires.
func MustCreatePasswordReset(tb testing.TB, s tack.Store, accountID, createdBy int64, expires time.Time) *tack.PasswordReset {
	tb.Helper()
	r := &tack.PasswordReset{ID: rand.Text(), AccountID: accountID, CreatedBy: createdBy, Expires: expires}
	if err := s.CreatePasswordReset(tb.Context(), r); err != nil {
		tb.Fatalf("CreatePasswordReset(%d): %v", accountID, err)
	}
	return r
}

func testPasswordReset(t *testing.T, s tack.Store) {
	ctx := t.Context()
	op := MustCreateAccount(t, s, "olga@example.com")
	a := MustCreateAccount(t, s, "pia@example.com")
	if err := s.SetAccountPassword(ctx, a.ID, "$argon2id$old"); err != nil {
		t.Fatalf("SetAccountPassword: %v", err)
	}
	signedIn := MustCreateSession(t, s, a.ID, inAnHour())
	opSession := MustCreateSession(t, s, op.ID, inAnHour())
	token := MustCreateToken(t, s, a.ID, "laptop")
	opToken := MustCreateToken(t, s, op.ID, "operator's")

	start := time.Now()
	r := MustCreatePasswordReset(t, s, a.ID, op.ID, inAnHour())
	checkTime(t, "Created", r.Created, start, time.Now())
	other := MustCreatePasswordReset(t, s, a.ID, op.ID, inAnHour())
	got, err := s.FindPasswordReset(ctx, r.ID)
	if err != nil {
		t.Fatalf("FindPasswordReset: %v", err)
	}
	if got.ID != r.ID || got.AccountID != a.ID || got.CreatedBy != op.ID || !got.Created.Equal(r.Created) || !got.Expires.Equal(r.Expires) {
		t.Errorf("FindPasswordReset = %+v, want %+v", got, r)
	}

	acct, err := s.ResetPassword(ctx, r.ID, "$argon2id$new", false)
	if err != nil {
		t.Fatalf("ResetPassword: %v", err)
	}
	if acct.ID != a.ID || acct.PasswordHash != "$argon2id$new" {
		t.Errorf("ResetPassword returned %+v, want account %d with the new hash", acct, a.ID)
	}
	if got := MustFindAccount(t, s, a.ID); got.PasswordHash != "$argon2id$new" {
		t.Errorf("stored hash %q, want the new one", got.PasswordHash)
	}
	checkSessionGone(t, s, signedIn.ID, "the account's session after a reset")
	checkSessionFound(t, s, opSession)
	if got := MustFindToken(t, s, token.ID); !got.Revoked.IsZero() {
		t.Errorf("a reset not asked to revoke tokens revoked one at %v", got.Revoked)
	}

	// Every link of the account is used up; a second use changes nothing.
	for _, id := range []string{r.ID, other.ID} {
		_, err = s.FindPasswordReset(ctx, id)
		checkCode(t, "FindPasswordReset(after a reset)", err, tack.ENOTFOUND)
		_, err = s.ResetPassword(ctx, id, "$argon2id$again", true)
		checkCode(t, "ResetPassword(used)", err, tack.ENOTFOUND)
	}
	if got := MustFindAccount(t, s, a.ID); got.PasswordHash != "$argon2id$new" {
		t.Errorf("stored hash %q after refused resets, want the new one", got.PasswordHash)
	}
	if got := MustFindToken(t, s, token.ID); !got.Revoked.IsZero() {
		t.Errorf("a refused reset revoked a token at %v", got.Revoked)
	}

	// Asked to, a reset revokes every token of the account, and only of
	// that account, in the same transaction.
	again := MustCreatePasswordReset(t, s, a.ID, op.ID, inAnHour())
	second := MustCreateToken(t, s, a.ID, "desktop")
	if _, err := s.ResetPassword(ctx, again.ID, "$argon2id$newer", true); err != nil {
		t.Fatalf("ResetPassword(revoking tokens): %v", err)
	}
	for _, tok := range []*tack.Token{token, second} {
		if got := MustFindToken(t, s, tok.ID); got.Revoked.IsZero() {
			t.Errorf("token %q not revoked by a reset asked to", tok.Name)
		}
	}
	if got := MustFindToken(t, s, opToken.ID); !got.Revoked.IsZero() {
		t.Errorf("another account's token was revoked by a reset")
	}
}

func testPasswordResetRefused(t *testing.T, s tack.Store) {
	ctx := t.Context()
	op := MustCreateAccount(t, s, "quinn@example.com")
	a := MustCreateAccount(t, s, "rosa@example.com")

	expired := MustCreatePasswordReset(t, s, a.ID, op.ID, time.Now().Add(-time.Second))
	if _, err := s.FindPasswordReset(ctx, expired.ID); err != nil {
		t.Errorf("FindPasswordReset(expired) = %v, want the link (callers check Expires)", err)
	}
	token := MustCreateToken(t, s, a.ID, "laptop")
	_, err := s.ResetPassword(ctx, expired.ID, "$argon2id$new", true)
	checkCode(t, "ResetPassword(expired)", err, tack.ENOTFOUND)
	_, err = s.ResetPassword(ctx, "no-such-link", "$argon2id$new", true)
	checkCode(t, "ResetPassword(unknown)", err, tack.ENOTFOUND)
	if got := MustFindAccount(t, s, a.ID); got.PasswordHash != "" {
		t.Errorf("stored hash %q after refused resets, want none", got.PasswordHash)
	}
	if got := MustFindToken(t, s, token.ID); !got.Revoked.IsZero() {
		t.Errorf("a refused reset revoked a token")
	}

	err = s.CreatePasswordReset(ctx, &tack.PasswordReset{ID: "x", AccountID: a.ID + 1000, CreatedBy: op.ID, Expires: inAnHour()})
	checkCode(t, "CreatePasswordReset(unknown account)", err, tack.ENOTFOUND)
	err = s.CreatePasswordReset(ctx, &tack.PasswordReset{ID: expired.ID, AccountID: a.ID, CreatedBy: op.ID, Expires: inAnHour()})
	checkCode(t, "CreatePasswordReset(existing id)", err, tack.ECONFLICT)
}
