package auth_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/auth"
	"github.com/tack-ipfs/tack/sqlite"
	"github.com/tack-ipfs/tack/sqlite/sqlitetest"
)

func MustAccount(tb testing.TB, db *sqlite.DB, email string) *tack.Account {
	tb.Helper()
	a := &tack.Account{Email: email, Access: tack.AccessApproved}
	if err := db.CreateAccount(context.Background(), a); err != nil {
		tb.Fatal(err)
	}
	return a
}

func TestIssueAndAuthenticate(t *testing.T) {
	ctx := context.Background()
	db := sqlitetest.MustOpen(t)
	key, err := auth.LoadOrCreateKey(filepath.Join(t.TempDir(), "jwt.key"))
	if err != nil {
		t.Fatal(err)
	}
	a := auth.New(db, key)
	alice := MustAccount(t, db, "alice@example.com")
	token, rec, err := a.Issue(ctx, alice.ID, "laptop")
	if err != nil {
		t.Fatal(err)
	}
	acct, tok, err := a.Authenticate(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	if acct.ID != alice.ID || tok.ID != rec.ID || tok.Name != "laptop" {
		t.Fatalf("got account %d token %+v, want %d %+v", acct.ID, tok, alice.ID, rec)
	}
	if tok.LastUsed.IsZero() {
		t.Error("Authenticate did not record the last use")
	}

	otherKey, err := auth.LoadOrCreateKey(filepath.Join(t.TempDir(), "other.key"))
	if err != nil {
		t.Fatal(err)
	}
	forged, _, err := auth.New(db, otherKey).Issue(ctx, alice.ID, "forged")
	if err != nil {
		t.Fatal(err)
	}
	unsigned, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.RegisteredClaims{Issuer: auth.Issuer, Subject: "1", ID: rec.ID}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	parts := strings.Split(token, ".")
	tampered := parts[0] + "." + parts[1] + "x." + parts[2]

	for name, bad := range map[string]string{
		"empty":                 "",
		"purposefullyInvalid":   "purposefullyInvalid",
		"signed by another key": forged,
		"alg none":              unsigned,
		"tampered":              tampered,
	} {
		if _, _, err := a.Authenticate(ctx, bad); tack.ErrorCode(err) != tack.EUNAUTHORIZED {
			t.Errorf("%s: err = %v, want EUNAUTHORIZED", name, err)
		}
	}

	if err := db.RevokeToken(ctx, alice.ID, rec.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Authenticate(ctx, token); tack.ErrorCode(err) != tack.EUNAUTHORIZED {
		t.Errorf("revoked token: err = %v, want EUNAUTHORIZED", err)
	}
}

func TestLoadOrCreateKeyKeepsTheKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jwt.key")
	k1, err := auth.LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := auth.LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(k1) != string(k2) || len(k1) < 32 {
		t.Fatalf("key changed between loads or is short (%d bytes)", len(k1))
	}
}

func TestTouchIsThrottled(t *testing.T) {
	ctx := context.Background()
	db := sqlitetest.MustOpen(t)
	a := auth.New(db, make([]byte, 32))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a.Now = func() time.Time { return now }
	alice := MustAccount(t, db, "alice@example.com")
	token, rec, err := a.Issue(ctx, alice.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		advance time.Duration
		want    time.Time
	}{
		{0, now},
		{30 * time.Second, now}, // too soon: not written again
		{2 * time.Minute, now.Add(2*time.Minute + 30*time.Second)},
	} {
		now = now.Add(step.advance)
		if _, _, err := a.Authenticate(ctx, token); err != nil {
			t.Fatal(err)
		}
		got, err := db.FindTokenByID(ctx, rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.LastUsed.Equal(step.want) {
			t.Fatalf("after +%s LastUsed = %s, want %s", step.advance, got.LastUsed, step.want)
		}
	}
}
