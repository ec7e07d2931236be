package storetest

import (
	"testing"
	"time"

	"github.com/tack-ipfs/tack"
)

func testCreateAccount(t *testing.T, s tack.Store) {
	ctx := t.Context()
	start := time.Now()
	a := &tack.Account{Email: "  Alice@Example.COM ", Admin: true}
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	if a.ID == 0 {
		t.Errorf("ID not set")
	}
	if got, want := a.Email, "alice@example.com"; got != want {
		t.Errorf("Email = %q, want %q", got, want)
	}
	if got, want := a.Access, tack.AccessNone; got != want {
		t.Errorf("Access = %q, want %q", got, want)
	}
	checkTime(t, "Created", a.Created, start, time.Now())

	got, err := s.FindAccountByID(ctx, a.ID)
	if err != nil {
		t.Fatalf("FindAccountByID: %v", err)
	}
	if *got != *a {
		t.Errorf("FindAccountByID = %+v, want %+v", got, a)
	}

	b := MustCreateAccount(t, s, "bob@example.com")
	if b.ID == a.ID {
		t.Errorf("two accounts have ID %d", a.ID)
	}
	if got, want := b.Access, tack.AccessApproved; got != want {
		t.Errorf("Access = %q, want %q", got, want)
	}
	if n, err := s.CountAccounts(ctx); err != nil {
		t.Fatalf("CountAccounts: %v", err)
	} else if n != 2 {
		t.Errorf("CountAccounts = %d, want 2", n)
	}
}

func testCreateAccountInvalid(t *testing.T, s tack.Store) {
	for _, a := range []tack.Account{
		{Email: ""},
		{Email: "   "},
		{Email: "carol@example.com", Access: "superuser"},
	} {
		err := s.CreateAccount(t.Context(), &a)
		checkCode(t, "CreateAccount("+a.Email+", "+string(a.Access)+")", err, tack.EINVALID)
	}
	if n, err := s.CountAccounts(t.Context()); err != nil {
		t.Fatalf("CountAccounts: %v", err)
	} else if n != 0 {
		t.Errorf("CountAccounts = %d after invalid creates, want 0", n)
	}
}

func testDuplicateEmail(t *testing.T, s tack.Store) {
	MustCreateAccount(t, s, "dave@example.com")
	for _, email := range []string{"dave@example.com", "DAVE@example.com", " Dave@Example.com"} {
		err := s.CreateAccount(t.Context(), &tack.Account{Email: email})
		checkCode(t, "CreateAccount("+email+")", err, tack.ECONFLICT)
	}
	if n, err := s.CountAccounts(t.Context()); err != nil {
		t.Fatalf("CountAccounts: %v", err)
	} else if n != 1 {
		t.Errorf("CountAccounts = %d, want 1", n)
	}
}

func testFindAccountByEmail(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "Erin@Example.com")
	MustCreateAccount(t, s, "frank@example.com")
	for _, email := range []string{"erin@example.com", "ERIN@EXAMPLE.COM", "Erin@Example.com"} {
		got, err := s.FindAccountByEmail(t.Context(), email)
		if err != nil {
			t.Errorf("FindAccountByEmail(%q): %v", email, err)
			continue
		}
		if *got != *a {
			t.Errorf("FindAccountByEmail(%q) = %+v, want %+v", email, got, a)
		}
	}
	_, err := s.FindAccountByEmail(t.Context(), "nobody@example.com")
	checkCode(t, "FindAccountByEmail(unknown)", err, tack.ENOTFOUND)
}

func testAccountNotFound(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "gina@example.com")
	_, err := s.FindAccountByID(t.Context(), a.ID+1000)
	checkCode(t, "FindAccountByID(unknown)", err, tack.ENOTFOUND)
	err = s.SetAccountAccess(t.Context(), a.ID+1000, tack.AccessApproved, "")
	checkCode(t, "SetAccountAccess(unknown)", err, tack.ENOTFOUND)
	err = s.SetAccountBlocked(t.Context(), a.ID+1000, true)
	checkCode(t, "SetAccountBlocked(unknown)", err, tack.ENOTFOUND)
	err = s.SetAccountPassword(t.Context(), a.ID+1000, "hash")
	checkCode(t, "SetAccountPassword(unknown)", err, tack.ENOTFOUND)
}

func testFindAccounts(t *testing.T, s tack.Store) {
	got, err := s.FindAccounts(t.Context())
	if err != nil {
		t.Fatalf("FindAccounts: %v", err)
	}
	if len(got) != 0 {
		t.Errorf("FindAccounts on an empty store = %d accounts, want 0", len(got))
	}
	var want []*tack.Account
	for _, email := range []string{"h1@example.com", "h2@example.com", "h3@example.com"} {
		want = append(want, MustCreateAccount(t, s, email))
	}
	got, err = s.FindAccounts(t.Context())
	if err != nil {
		t.Fatalf("FindAccounts: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("FindAccounts = %d accounts, want %d", len(got), len(want))
	}
	for i := range want {
		if *got[i] != *want[i] {
			t.Errorf("FindAccounts[%d] = %+v, want %+v (oldest first)", i, got[i], want[i])
		}
	}
}

func testSetAccountAccess(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "ivan@example.com")
	other := MustCreateAccount(t, s, "judy@example.com")
	for _, access := range []tack.Access{tack.AccessRequested, tack.AccessDenied, tack.AccessApproved, tack.AccessNone} {
		if err := s.SetAccountAccess(t.Context(), a.ID, access, ""); err != nil {
			t.Fatalf("SetAccountAccess(%s): %v", access, err)
		}
		got, err := s.FindAccountByID(t.Context(), a.ID)
		if err != nil {
			t.Fatalf("FindAccountByID: %v", err)
		}
		if got.Access != access {
			t.Errorf("Access = %q, want %q", got.Access, access)
		}
	}
	err := s.SetAccountAccess(t.Context(), a.ID, "superuser", "")
	checkCode(t, "SetAccountAccess(invalid)", err, tack.EINVALID)

	got, err := s.FindAccountByID(t.Context(), other.ID)
	if err != nil {
		t.Fatalf("FindAccountByID: %v", err)
	}
	if got.Access != tack.AccessApproved {
		t.Errorf("other account's Access = %q, want it unchanged (%q)", got.Access, tack.AccessApproved)
	}
}

// MustFindAccount returns the account id.
func MustFindAccount(tb testing.TB, s tack.Store, id int64) *tack.Account {
	tb.Helper()
	a, err := s.FindAccountByID(tb.Context(), id)
	if err != nil {
		tb.Fatalf("FindAccountByID(%d): %v", id, err)
	}
	return a
}

// checkAccountEverywhere fails the test unless FindAccountByID,
// FindAccountByEmail and FindAccounts all return want.
func checkAccountEverywhere(tb testing.TB, s tack.Store, want *tack.Account) {
	tb.Helper()
	if got := MustFindAccount(tb, s, want.ID); *got != *want {
		tb.Errorf("FindAccountByID = %+v, want %+v", got, want)
	}
	if got, err := s.FindAccountByEmail(tb.Context(), want.Email); err != nil {
		tb.Errorf("FindAccountByEmail(%s): %v", want.Email, err)
	} else if *got != *want {
		tb.Errorf("FindAccountByEmail = %+v, want %+v", got, want)
	}
	all, err := s.FindAccounts(tb.Context())
	if err != nil {
		tb.Fatalf("FindAccounts: %v", err)
	}
	for _, got := range all {
		if got.ID == want.ID && *got != *want {
			tb.Errorf("FindAccounts has %+v, want %+v", got, want)
		}
	}
}

func testBlockedAndPassword(t *testing.T, s tack.Store) {
	ctx := t.Context()
	plain := MustCreateAccount(t, s, "kim@example.com")
	if plain.Blocked || plain.PasswordHash != "" {
		t.Errorf("new account: Blocked %v, PasswordHash %q; want false and empty", plain.Blocked, plain.PasswordHash)
	}
	checkAccountEverywhere(t, s, plain)

	a := &tack.Account{Email: "lou@example.com", Blocked: true, PasswordHash: "$argon2id$first"}
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	if !a.Blocked || a.PasswordHash != "$argon2id$first" {
		t.Errorf("CreateAccount changed Blocked or PasswordHash: %+v", a)
	}
	checkAccountEverywhere(t, s, a)

	if err := s.SetAccountBlocked(ctx, a.ID, false); err != nil {
		t.Fatalf("SetAccountBlocked(false): %v", err)
	}
	a.Blocked = false
	checkAccountEverywhere(t, s, a)
	if err := s.SetAccountPassword(ctx, a.ID, "$argon2id$second"); err != nil {
		t.Fatalf("SetAccountPassword: %v", err)
	}
	a.PasswordHash = "$argon2id$second"
	checkAccountEverywhere(t, s, a)
	if err := s.SetAccountBlocked(ctx, plain.ID, true); err != nil {
		t.Fatalf("SetAccountBlocked(true): %v", err)
	}
	plain.Blocked = true
	checkAccountEverywhere(t, s, plain)
	// Setting a value again is no error.
	if err := s.SetAccountBlocked(ctx, plain.ID, true); err != nil {
		t.Fatalf("SetAccountBlocked(true) twice: %v", err)
	}
	if err := s.SetAccountPassword(ctx, plain.ID, ""); err != nil {
		t.Fatalf("SetAccountPassword(empty): %v", err)
	}
	checkAccountEverywhere(t, s, plain)
	checkAccountEverywhere(t, s, a)
}
