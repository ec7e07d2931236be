package storetest

import (
	"crypto/rand"
	"slices"
	"testing"
	"time"

	"github.com/tack-ipfs/tack"
)

// MustCreateInvite creates an invitation by the account with a random ID,
// expiring at expires.
func MustCreateInvite(tb testing.TB, s tack.Store, createdBy int64, expires time.Time) *tack.Invite {
	tb.Helper()
	i := &tack.Invite{ID: rand.Text(), CreatedBy: createdBy, Expires: expires}
	if err := s.CreateInvite(tb.Context(), i); err != nil {
		tb.Fatalf("CreateInvite: %v", err)
	}
	return i
}

// MustFindInvites returns the IDs of the invitations open at now.
func MustFindInvites(tb testing.TB, s tack.Store, now time.Time) []string {
	tb.Helper()
	invites, err := s.FindInvites(tb.Context(), now)
	if err != nil {
		tb.Fatalf("FindInvites: %v", err)
	}
	ids := []string{}
	for _, i := range invites {
		ids = append(ids, i.ID)
	}
	return ids
}

func testCreateInvite(t *testing.T, s tack.Store) {
	ctx := t.Context()
	op := MustCreateAccount(t, s, "wes@example.com")
	if got := MustFindInvites(t, s, time.Now()); len(got) != 0 {
		t.Errorf("FindInvites on an empty store = %v", got)
	}

	start := time.Now()
	first := MustCreateInvite(t, s, op.ID, inAnHour())
	checkTime(t, "Created", first.Created, start, time.Now())
	later()
	second := MustCreateInvite(t, s, op.ID, inAnHour().Add(time.Hour))
	later()
	MustCreateInvite(t, s, op.ID, time.Now().Add(-time.Minute)) // expired
	later()
	used := MustCreateInvite(t, s, op.ID, inAnHour())
	if err := s.CreateAccountWithInvite(ctx, &tack.Account{Email: "xena@example.com"}, used.ID); err != nil {
		t.Fatalf("CreateAccountWithInvite: %v", err)
	}

	invites, err := s.FindInvites(ctx, time.Now())
	if err != nil {
		t.Fatalf("FindInvites: %v", err)
	}
	if len(invites) != 2 {
		t.Fatalf("FindInvites = %d invitations, want 2 (not the used or expired ones)", len(invites))
	}
	for i, want := range []*tack.Invite{second, first} {
		got := invites[i]
		if got.ID != want.ID || got.CreatedBy != op.ID || !got.Created.Equal(want.Created) || !got.Expires.Equal(want.Expires) ||
			got.UsedBy != 0 || !got.Used.IsZero() {
			t.Errorf("FindInvites[%d] = %+v, want %+v (newest first)", i, got, want)
		}
	}
	// An hour and a half from now only the second is still open.
	if got, want := MustFindInvites(t, s, time.Now().Add(90*time.Minute)), []string{second.ID}; !slices.Equal(got, want) {
		t.Errorf("FindInvites(in 90 minutes) = %v, want %v", got, want)
	}

	err = s.CreateInvite(ctx, &tack.Invite{ID: first.ID, CreatedBy: op.ID, Expires: inAnHour()})
	checkCode(t, "CreateInvite(existing id)", err, tack.ECONFLICT)
}

func testCreateAccountWithInvite(t *testing.T, s tack.Store) {
	ctx := t.Context()
	op := MustCreateAccount(t, s, "yara@example.com")
	inv := MustCreateInvite(t, s, op.ID, inAnHour())

	start := time.Now()
	a := &tack.Account{Email: " Zoe@Example.com", PasswordHash: "$argon2id$zoe"}
	if err := s.CreateAccountWithInvite(ctx, a, inv.ID); err != nil {
		t.Fatalf("CreateAccountWithInvite: %v", err)
	}
	if a.ID == 0 || a.Email != "zoe@example.com" || a.Access != tack.AccessNone || a.PasswordHash != "$argon2id$zoe" {
		t.Errorf("created account = %+v, want it set as CreateAccount does", a)
	}
	checkTime(t, "Created", a.Created, start, time.Now())
	checkAccountEverywhere(t, s, a)
	if got := MustFindInvites(t, s, time.Now()); len(got) != 0 {
		t.Errorf("FindInvites after the invitation was used = %v, want none", got)
	}

	// Used: a second sign-up with it creates nothing.
	err := s.CreateAccountWithInvite(ctx, &tack.Account{Email: "second@example.com"}, inv.ID)
	checkCode(t, "CreateAccountWithInvite(used)", err, tack.ENOTFOUND)
	_, err = s.FindAccountByEmail(ctx, "second@example.com")
	checkCode(t, "FindAccountByEmail(refused by a used invitation)", err, tack.ENOTFOUND)

	err = s.CreateAccountWithInvite(ctx, &tack.Account{Email: "third@example.com"}, "no-such-invite")
	checkCode(t, "CreateAccountWithInvite(unknown)", err, tack.ENOTFOUND)

	expired := MustCreateInvite(t, s, op.ID, time.Now().Add(-time.Second))
	err = s.CreateAccountWithInvite(ctx, &tack.Account{Email: "fourth@example.com"}, expired.ID)
	checkCode(t, "CreateAccountWithInvite(expired)", err, tack.ENOTFOUND)

	if n, err := s.CountAccounts(ctx); err != nil {
		t.Fatalf("CountAccounts: %v", err)
	} else if n != 2 {
		t.Errorf("CountAccounts = %d after refused sign-ups, want 2", n)
	}
}

func testInviteEmailTaken(t *testing.T, s tack.Store) {
	ctx := t.Context()
	op := MustCreateAccount(t, s, "abe@example.com")
	inv := MustCreateInvite(t, s, op.ID, inAnHour())

	err := s.CreateAccountWithInvite(ctx, &tack.Account{Email: "ABE@example.com"}, inv.ID)
	checkCode(t, "CreateAccountWithInvite(taken email)", err, tack.ECONFLICT)
	err = s.CreateAccountWithInvite(ctx, &tack.Account{Email: "  "}, inv.ID)
	checkCode(t, "CreateAccountWithInvite(no email)", err, tack.EINVALID)
	if got, want := MustFindInvites(t, s, time.Now()), []string{inv.ID}; !slices.Equal(got, want) {
		t.Errorf("FindInvites after refused sign-ups = %v, want the invitation still open", got)
	}

	// It still works once.
	b := &tack.Account{Email: "bea@example.com"}
	if err := s.CreateAccountWithInvite(ctx, b, inv.ID); err != nil {
		t.Fatalf("CreateAccountWithInvite: %v", err)
	}
	checkAccountEverywhere(t, s, b)
}
