package auth_test

import (
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
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
	key, err := auth.SigningKey(ctx, db, "")
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

	otherKey, err := auth.SigningKey(ctx, sqlitetest.MustOpen(t), "")
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

// The key lives in the store: a second node on the same store gets the
// first node's key, and a key file from before the store kept it becomes
// the store's key, so that the tokens it signed stay valid.
func TestSigningKeyShared(t *testing.T) {
	ctx := context.Background()
	db := sqlitetest.MustOpen(t)
	k1, err := auth.SigningKey(ctx, db, filepath.Join(t.TempDir(), "missing.key"))
	if err != nil {
		t.Fatal(err)
	}
	k2, err := auth.SigningKey(ctx, db, "")
	if err != nil {
		t.Fatal(err)
	}
	if string(k1) != string(k2) || len(k1) < 32 {
		t.Fatalf("second node's key differs from the first's, or is short (%d bytes)", len(k1))
	}

	legacy := filepath.Join(t.TempDir(), "jwt.key")
	want := strings.Repeat("ab", 32)
	if err := os.WriteFile(legacy, []byte(want+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := sqlitetest.MustOpen(t)
	got, err := auth.SigningKey(ctx, old, legacy)
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(got) != want {
		t.Fatalf("key = %x, want the legacy file's %s", got, want)
	}
	if got, _ := auth.SigningKey(ctx, db, legacy); string(got) != string(k1) {
		t.Fatal("a legacy file replaced the key already in the store")
	}

	if err := os.WriteFile(legacy, []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.SigningKey(ctx, sqlitetest.MustOpen(t), legacy); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("damaged key file: err = %v, want it named damaged", err)
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

// TestScopeIsTheStores: a token's scope is what the store recorded when it
// was issued; a JWT that claims another scope, even one signed with the
// service's key, gets the stored one.
func TestScopeIsTheStores(t *testing.T) {
	ctx := context.Background()
	db := sqlitetest.MustOpen(t)
	key, err := auth.SigningKey(ctx, db, "")
	if err != nil {
		t.Fatal(err)
	}
	a := auth.New(db, key)
	alice := MustAccount(t, db, "alice@example.com")
	for _, scope := range []tack.Scope{tack.ScopeRead, tack.ScopeFull} {
		token, rec, err := a.IssueScoped(ctx, alice.ID, "t-"+string(scope), scope)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Scope != scope {
			t.Errorf("IssueScoped(%s) recorded scope %q", scope, rec.Scope)
		}
		if _, tok, err := a.Authenticate(ctx, token); err != nil || tok.Scope != scope {
			t.Errorf("Authenticate(%s token) = %+v, %v; want scope %s", scope, tok, err, scope)
		}
		// The same token ID, re-signed with the service's own key with a
		// claim of the widest scope.
		claims := jwt.MapClaims{"iss": auth.Issuer, "sub": strconv.FormatInt(alice.ID, 10), "jti": rec.ID, "scope": string(tack.ScopeFull)}
		widened, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		if _, tok, err := a.Authenticate(ctx, widened); err != nil || tok.Scope != scope {
			t.Errorf("Authenticate(%s token claiming full) = %+v, %v; want scope %s", scope, tok, err, scope)
		}
	}
	_, tok, err := a.Issue(ctx, alice.ID, "default")
	if err != nil || tok.Scope != tack.ScopeFull {
		t.Errorf("Issue = %+v, %v; want a full token", tok, err)
	}
	_, _, err = a.IssueScoped(ctx, alice.ID, "bad", "admin")
	if tack.ErrorCode(err) != tack.EINVALID {
		t.Errorf("IssueScoped(unknown scope) = %v, want EINVALID", err)
	}
}
