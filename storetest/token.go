package storetest

import (
	"crypto/rand"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tack-ipfs/tack"
)

// MustCreateToken creates a token with a random ID for the account.
func MustCreateToken(tb testing.TB, s tack.Store, accountID int64, name string) *tack.Token {
	tb.Helper()
	tok := &tack.Token{ID: rand.Text(), AccountID: accountID, Name: name}
	if err := s.CreateToken(tb.Context(), tok); err != nil {
		tb.Fatalf("CreateToken(%q): %v", name, err)
	}
	return tok
}

// MustFindToken returns the token id.
func MustFindToken(tb testing.TB, s tack.Store, id string) *tack.Token {
	tb.Helper()
	tok, err := s.FindTokenByID(tb.Context(), id)
	if err != nil {
		tb.Fatalf("FindTokenByID(%s): %v", id, err)
	}
	return tok
}

func testCreateToken(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "kate@example.com")
	start := time.Now()
	tok := MustCreateToken(t, s, a.ID, "laptop")
	checkTime(t, "Created", tok.Created, start, time.Now())

	got := MustFindToken(t, s, tok.ID)
	if *got != *tok {
		t.Errorf("FindTokenByID = %+v, want %+v", got, tok)
	}
	if !got.LastUsed.IsZero() || !got.Revoked.IsZero() {
		t.Errorf("new token: LastUsed %v, Revoked %v, want both zero", got.LastUsed, got.Revoked)
	}
	_, err := s.FindTokenByID(t.Context(), "no-such-token")
	checkCode(t, "FindTokenByID(unknown)", err, tack.ENOTFOUND)
}

func testCreateTokenErrors(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "leo@example.com")
	b := MustCreateAccount(t, s, "mia@example.com")
	tok := MustCreateToken(t, s, a.ID, "first")

	err := s.CreateToken(t.Context(), &tack.Token{ID: tok.ID, AccountID: b.ID, Name: "copy"})
	checkCode(t, "CreateToken(existing id)", err, tack.ECONFLICT)
	if got := MustFindToken(t, s, tok.ID); got.AccountID != a.ID || got.Name != "first" {
		t.Errorf("after a conflicting create the token is %+v, want it unchanged", got)
	}

	err = s.CreateToken(t.Context(), &tack.Token{ID: rand.Text(), AccountID: b.ID + 1000, Name: "orphan"})
	checkCode(t, "CreateToken(unknown account)", err, tack.ENOTFOUND)
}

func testFindTokens(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "nina@example.com")
	b := MustCreateAccount(t, s, "omar@example.com")

	got, err := s.FindTokens(t.Context(), a.ID)
	if err != nil {
		t.Fatalf("FindTokens: %v", err)
	}
	if len(got) != 0 {
		t.Errorf("FindTokens of a new account = %d tokens, want 0", len(got))
	}

	var want []string
	for _, name := range []string{"one", "two", "three", "four"} {
		want = append(want, MustCreateToken(t, s, a.ID, name).ID)
		MustCreateToken(t, s, b.ID, "b-"+name)
	}
	if err := s.RevokeToken(t.Context(), a.ID, want[1]); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}

	got, err = s.FindTokens(t.Context(), a.ID)
	if err != nil {
		t.Fatalf("FindTokens: %v", err)
	}
	var gotIDs []string
	for i, tok := range got {
		gotIDs = append(gotIDs, tok.ID)
		if tok.AccountID != a.ID {
			t.Errorf("FindTokens(a) returned a token of account %d", tok.AccountID)
		}
		if i > 0 && tok.Created.Before(got[i-1].Created) {
			t.Errorf("FindTokens not oldest first: %v after %v", tok.Created, got[i-1].Created)
		}
		if revoked := !tok.Revoked.IsZero(); revoked != (tok.ID == want[1]) {
			t.Errorf("token %s: revoked %v", tok.Name, revoked)
		}
	}
	// Tokens created in the same microsecond may come in either order.
	slices.Sort(gotIDs)
	slices.Sort(want)
	if !slices.Equal(gotIDs, want) {
		t.Errorf("FindTokens IDs = %v, want %v", gotIDs, want)
	}
}

func testRevokeToken(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "pat@example.com")
	b := MustCreateAccount(t, s, "quinn@example.com")
	tok := MustCreateToken(t, s, a.ID, "phone")

	err := s.RevokeToken(t.Context(), b.ID, tok.ID)
	checkCode(t, "RevokeToken(another account's token)", err, tack.ENOTFOUND)
	if got := MustFindToken(t, s, tok.ID); !got.Revoked.IsZero() {
		t.Errorf("another account revoked the token: Revoked = %v", got.Revoked)
	}
	err = s.RevokeToken(t.Context(), a.ID, "no-such-token")
	checkCode(t, "RevokeToken(unknown)", err, tack.ENOTFOUND)

	start := time.Now()
	if err := s.RevokeToken(t.Context(), a.ID, tok.ID); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	got := MustFindToken(t, s, tok.ID)
	checkTime(t, "Revoked", got.Revoked, start, time.Now())
	if got.ID != tok.ID || got.Name != tok.Name || !got.Created.Equal(tok.Created) {
		t.Errorf("revoked token = %+v, want the same token as %+v", got, tok)
	}
}

func testTouchToken(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "rosa@example.com")
	tok := MustCreateToken(t, s, a.ID, "ci")
	other := MustCreateToken(t, s, a.ID, "unused")
	used := time.Date(2026, 11, 23, 12, 34, 56, 789012000, time.UTC)
	if err := s.TouchToken(t.Context(), tok.ID, used); err != nil {
		t.Fatalf("TouchToken: %v", err)
	}
	if got := MustFindToken(t, s, tok.ID); !got.LastUsed.Equal(used) {
		t.Errorf("LastUsed = %v, want %v", got.LastUsed, used)
	}
	if got := MustFindToken(t, s, other.ID); !got.LastUsed.IsZero() {
		t.Errorf("untouched token: LastUsed = %v, want zero", got.LastUsed)
	}
	later := used.Add(time.Hour)
	if err := s.TouchToken(t.Context(), tok.ID, later); err != nil {
		t.Fatalf("TouchToken: %v", err)
	}
	if got := MustFindToken(t, s, tok.ID); !got.LastUsed.Equal(later) {
		t.Errorf("LastUsed = %v, want %v", got.LastUsed, later)
	}
}

// testTokenLimit: an account holds at most tack.MaxTokens tokens that are
// not revoked, also when they are created at once; revoking one makes
// room for one more, and other accounts are not affected.
func testTokenLimit(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "tess@example.com")
	b := MustCreateAccount(t, s, "uma@example.com")
	const tries = tack.MaxTokens + 20
	errs := make(chan error, tries)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := i; j < tries; j += 8 {
				errs <- s.CreateToken(t.Context(), &tack.Token{ID: rand.Text(), AccountID: a.ID, Name: fmt.Sprint("token ", j)})
			}
		})
	}
	wg.Wait()
	close(errs)
	created := 0
	for err := range errs {
		switch tack.ErrorCode(err) {
		case "":
			created++
		case tack.EQUOTA:
		default:
			t.Errorf("CreateToken past the limit: %v, want EQUOTA", err)
		}
	}
	if created != tack.MaxTokens {
		t.Errorf("%d of %d tokens created at once, want %d", created, tries, tack.MaxTokens)
	}
	err := s.CreateToken(t.Context(), &tack.Token{ID: rand.Text(), AccountID: a.ID, Name: "one more"})
	checkCode(t, "CreateToken(past the limit)", err, tack.EQUOTA)
	MustCreateToken(t, s, b.ID, "another account's")

	tokens, err := s.FindTokens(t.Context(), a.ID)
	if err != nil {
		t.Fatalf("FindTokens: %v", err)
	}
	if len(tokens) != tack.MaxTokens {
		t.Fatalf("FindTokens = %d tokens, want %d", len(tokens), tack.MaxTokens)
	}
	if err := s.RevokeToken(t.Context(), a.ID, tokens[0].ID); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	MustCreateToken(t, s, a.ID, "in the revoked one's place")
	err = s.CreateToken(t.Context(), &tack.Token{ID: rand.Text(), AccountID: a.ID, Name: "one more"})
	checkCode(t, "CreateToken(past the limit again)", err, tack.EQUOTA)
}

// testRevokeTokens: RevokeTokens revokes every token of one account that
// is not revoked yet, keeps earlier revocation times, and touches no other
// account's tokens.
func testRevokeTokens(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "vera@example.com")
	b := MustCreateAccount(t, s, "walt@example.com")
	var mine []*tack.Token
	for _, name := range []string{"laptop", "ci", "phone"} {
		mine = append(mine, MustCreateToken(t, s, a.ID, name))
	}
	theirs := MustCreateToken(t, s, b.ID, "laptop")
	if err := s.RevokeToken(t.Context(), a.ID, mine[0].ID); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	first := MustFindToken(t, s, mine[0].ID).Revoked

	start := time.Now()
	n, err := s.RevokeTokens(t.Context(), a.ID)
	if err != nil || n != 2 {
		t.Fatalf("RevokeTokens = %d, %v; want 2", n, err)
	}
	if got := MustFindToken(t, s, mine[0].ID).Revoked; !got.Equal(first) {
		t.Errorf("a revoked token's time moved from %v to %v", first, got)
	}
	for _, tok := range mine[1:] {
		checkTime(t, "Revoked", MustFindToken(t, s, tok.ID).Revoked, start, time.Now())
	}
	if got := MustFindToken(t, s, theirs.ID); !got.Revoked.IsZero() {
		t.Errorf("another account's token was revoked at %v", got.Revoked)
	}
	if n, err := s.RevokeTokens(t.Context(), a.ID); err != nil || n != 0 {
		t.Errorf("RevokeTokens again = %d, %v; want 0", n, err)
	}
	if n, err := s.RevokeTokens(t.Context(), b.ID+1000); err != nil || n != 0 {
		t.Errorf("RevokeTokens(unknown account) = %d, %v; want 0, nil", n, err)
	}
}

// testFindTokenAndAccount: a store that is a tack.TokenAccountFinder
// returns what FindTokenByID and FindAccountByID do, revoked tokens
// included, and ENOTFOUND for an unknown token.
func testFindTokenAndAccount(t *testing.T, s tack.Store) {
	f, ok := s.(tack.TokenAccountFinder)
	if !ok {
		t.Skip("the store is no tack.TokenAccountFinder")
	}
	acct := MustCreateAccount(t, s, "a@example.com")
	MustSetLimits(t, s, acct.ID, ptr(7), nil)
	tok := MustCreateToken(t, s, acct.ID, "laptop")
	for _, revoke := range []bool{false, true} {
		if revoke {
			if err := s.RevokeToken(t.Context(), acct.ID, tok.ID); err != nil {
				t.Fatal(err)
			}
		}
		gotT, gotA, err := f.FindTokenAndAccount(t.Context(), tok.ID)
		if err != nil {
			t.Fatalf("FindTokenAndAccount: %v", err)
		}
		wantT := MustFindToken(t, s, tok.ID)
		wantA := MustFindAccount(t, s, acct.ID)
		if !reflect.DeepEqual(gotT, wantT) || !reflect.DeepEqual(gotA, wantA) {
			t.Errorf("revoked %v: FindTokenAndAccount = %+v, %+v; want %+v, %+v", revoke, gotT, gotA, wantT, wantA)
		}
	}
	_, _, err := f.FindTokenAndAccount(t.Context(), "nope")
	checkCode(t, "unknown token", err, tack.ENOTFOUND)
}

// testTokenScope: a token keeps the scope it was created with, in every
// read of it; an empty scope is stored as full, and an unknown one is
// refused with EINVALID, storing nothing.
func testTokenScope(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "xena@example.com")
	read := &tack.Token{ID: rand.Text(), AccountID: a.ID, Name: "monitoring", Scope: tack.ScopeRead}
	if err := s.CreateToken(t.Context(), read); err != nil {
		t.Fatalf("CreateToken(read): %v", err)
	}
	full := &tack.Token{ID: rand.Text(), AccountID: a.ID, Name: "laptop", Scope: tack.ScopeFull}
	if err := s.CreateToken(t.Context(), full); err != nil {
		t.Fatalf("CreateToken(full): %v", err)
	}
	unset := MustCreateToken(t, s, a.ID, "no scope given")
	if unset.Scope != tack.ScopeFull {
		t.Errorf("CreateToken without a scope set Scope %q, want %q", unset.Scope, tack.ScopeFull)
	}
	want := map[string]tack.Scope{read.ID: tack.ScopeRead, full.ID: tack.ScopeFull, unset.ID: tack.ScopeFull}
	for id, scope := range want {
		if got := MustFindToken(t, s, id).Scope; got != scope {
			t.Errorf("FindTokenByID(%s).Scope = %q, want %q", id, got, scope)
		}
		if f, ok := s.(tack.TokenAccountFinder); ok {
			tok, _, err := f.FindTokenAndAccount(t.Context(), id)
			if err != nil {
				t.Fatalf("FindTokenAndAccount: %v", err)
			}
			if tok.Scope != scope {
				t.Errorf("FindTokenAndAccount(%s).Scope = %q, want %q", id, tok.Scope, scope)
			}
		}
	}
	tokens, err := s.FindTokens(t.Context(), a.ID)
	if err != nil {
		t.Fatalf("FindTokens: %v", err)
	}
	if len(tokens) != len(want) {
		t.Fatalf("FindTokens = %d tokens, want %d", len(tokens), len(want))
	}
	for _, tok := range tokens {
		if tok.Scope != want[tok.ID] {
			t.Errorf("FindTokens: %s has scope %q, want %q", tok.Name, tok.Scope, want[tok.ID])
		}
	}
	// Revoking keeps the scope.
	if err := s.RevokeToken(t.Context(), a.ID, read.ID); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	if got := MustFindToken(t, s, read.ID).Scope; got != tack.ScopeRead {
		t.Errorf("revoked read-only token has scope %q", got)
	}

	bad := &tack.Token{ID: rand.Text(), AccountID: a.ID, Name: "admin", Scope: "admin"}
	checkCode(t, "CreateToken(unknown scope)", s.CreateToken(t.Context(), bad), tack.EINVALID)
	_, err = s.FindTokenByID(t.Context(), bad.ID)
	checkCode(t, "FindTokenByID(refused token)", err, tack.ENOTFOUND)
}
