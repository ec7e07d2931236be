package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/tack-ipfs/tack"
)

// MustRequestAccess stores an access request of the account, saying what
// it will pin, and returns it.
func MustRequestAccess(tb testing.TB, s tack.Store, accountID int64, what string) *tack.AccessRequest {
	tb.Helper()
	r := &tack.AccessRequest{AccountID: accountID, What: what, Volume: "a few GB", CIDs: []string{"bafy-" + what}}
	if err := s.RequestAccess(tb.Context(), r); err != nil {
		tb.Fatalf("RequestAccess(%d): %v", accountID, err)
	}
	return r
}

// MustFindAccessRequest returns the account's access request.
func MustFindAccessRequest(tb testing.TB, s tack.Store, accountID int64) *tack.AccessRequest {
	tb.Helper()
	r, err := s.FindAccessRequest(tb.Context(), accountID)
	if err != nil {
		tb.Fatalf("FindAccessRequest(%d): %v", accountID, err)
	}
	return r
}

// checkAccessRequest fails the test unless got is want, times compared
// with Equal.
func checkAccessRequest(tb testing.TB, what string, got, want *tack.AccessRequest) {
	tb.Helper()
	if got.AccountID != want.AccountID || got.Email != want.Email || got.What != want.What ||
		got.Volume != want.Volume || !slices.Equal(got.CIDs, want.CIDs) || got.Message != want.Message ||
		!got.Requested.Equal(want.Requested) || !got.Decided.Equal(want.Decided) {
		tb.Errorf("%s = %+v, want %+v", what, got, want)
	}
}

// checkAccess fails the test unless the account's access is want.
func checkAccess(tb testing.TB, s tack.Store, accountID int64, want tack.Access) {
	tb.Helper()
	if got := MustFindAccount(tb, s, accountID).Access; got != want {
		tb.Errorf("account %d: Access = %q, want %q", accountID, got, want)
	}
}

// later sleeps long enough for the store's clock to move on, so that the
// next time it records is after every one recorded before.
func later() { time.Sleep(2 * time.Millisecond) }

func testRequestAccess(t *testing.T, s tack.Store) {
	ctx := t.Context()
	a := &tack.Account{Email: "max@example.com"}
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	other := MustCreateAccount(t, s, "nell@example.com")

	start := time.Now()
	r := &tack.AccessRequest{
		AccountID: a.ID,
		What:      "photos of my cat",
		Volume:    "10 GB a month",
		CIDs:      []string{"bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", "not a cid at all"},
	}
	if err := s.RequestAccess(ctx, r); err != nil {
		t.Fatalf("RequestAccess: %v", err)
	}
	checkTime(t, "Requested", r.Requested, start, time.Now())
	want := *r
	want.Email = a.Email
	checkAccessRequest(t, "FindAccessRequest", MustFindAccessRequest(t, s, a.ID), &want)
	checkAccess(t, s, a.ID, tack.AccessRequested)
	checkAccess(t, s, other.ID, tack.AccessApproved)

	// The operator answers.
	later()
	start = time.Now()
	if err := s.SetAccountAccess(ctx, a.ID, tack.AccessDenied, "tell me more about the cat"); err != nil {
		t.Fatalf("SetAccountAccess: %v", err)
	}
	got := MustFindAccessRequest(t, s, a.ID)
	checkTime(t, "Decided", got.Decided, start, time.Now())
	if got.Message != "tell me more about the cat" {
		t.Errorf("Message = %q, want the operator's", got.Message)
	}
	want.Message, want.Decided = got.Message, got.Decided
	checkAccessRequest(t, "answered request", got, &want)
	checkAccess(t, s, a.ID, tack.AccessDenied)

	// Asking again replaces the request and clears the answer.
	later()
	again := &tack.AccessRequest{AccountID: a.ID, What: "cat videos", Volume: "1 TB"}
	if err := s.RequestAccess(ctx, again); err != nil {
		t.Fatalf("RequestAccess again: %v", err)
	}
	if !again.Requested.After(r.Requested) {
		t.Errorf("second Requested %v not after the first %v", again.Requested, r.Requested)
	}
	want = tack.AccessRequest{AccountID: a.ID, Email: a.Email, What: "cat videos", Volume: "1 TB", Requested: again.Requested}
	checkAccessRequest(t, "replaced request", MustFindAccessRequest(t, s, a.ID), &want)
	checkAccess(t, s, a.ID, tack.AccessRequested)

	// Approval records its own answer.
	if err := s.SetAccountAccess(ctx, a.ID, tack.AccessApproved, ""); err != nil {
		t.Fatalf("SetAccountAccess: %v", err)
	}
	if got := MustFindAccessRequest(t, s, a.ID); got.Decided.IsZero() || got.Message != "" {
		t.Errorf("approved without a message: Decided %v, Message %q; want a time and no message", got.Decided, got.Message)
	}
	checkAccess(t, s, a.ID, tack.AccessApproved)
	_, err := s.FindAccessRequest(ctx, other.ID)
	checkCode(t, "FindAccessRequest(an account that never asked)", err, tack.ENOTFOUND)
}

func testRequestAccessNotFound(t *testing.T, s tack.Store) {
	ctx := t.Context()
	a := MustCreateAccount(t, s, "otto@example.com")
	err := s.RequestAccess(ctx, &tack.AccessRequest{AccountID: a.ID + 1000, What: "x"})
	checkCode(t, "RequestAccess(unknown account)", err, tack.ENOTFOUND)
	_, err = s.FindAccessRequest(ctx, a.ID+1000)
	checkCode(t, "FindAccessRequest(unknown account)", err, tack.ENOTFOUND)
	_, err = s.FindAccessRequest(ctx, a.ID)
	checkCode(t, "FindAccessRequest(no request)", err, tack.ENOTFOUND)
	if got, err := s.FindAccessRequests(ctx, tack.AccessRequested); err != nil {
		t.Fatalf("FindAccessRequests: %v", err)
	} else if len(got) != 0 {
		t.Errorf("FindAccessRequests after a failed request = %d requests, want 0", len(got))
	}
}

func testAnswerWithoutRequest(t *testing.T, s tack.Store) {
	ctx := t.Context()
	a := &tack.Account{Email: "pia@example.com"}
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	if err := s.SetAccountAccess(ctx, a.ID, tack.AccessApproved, "welcome aboard"); err != nil {
		t.Fatalf("SetAccountAccess with a message, no request: %v", err)
	}
	checkAccess(t, s, a.ID, tack.AccessApproved)
	_, err := s.FindAccessRequest(ctx, a.ID)
	checkCode(t, "FindAccessRequest after an answer without a request", err, tack.ENOTFOUND)
}

func testFindAccessRequests(t *testing.T, s tack.Store) {
	ctx := t.Context()
	find := func(access tack.Access) []int64 {
		t.Helper()
		reqs, err := s.FindAccessRequests(ctx, access)
		if err != nil {
			t.Fatalf("FindAccessRequests(%s): %v", access, err)
		}
		ids := []int64{}
		for _, r := range reqs {
			if r.Email == "" {
				t.Errorf("FindAccessRequests(%s): request of account %d has no email", access, r.AccountID)
			}
			ids = append(ids, r.AccountID)
		}
		return ids
	}
	if got := find(tack.AccessRequested); len(got) != 0 {
		t.Errorf("FindAccessRequests on an empty store = %v", got)
	}

	var accts []*tack.Account
	for _, email := range []string{"q1@example.com", "q2@example.com", "q3@example.com", "q4@example.com"} {
		a := &tack.Account{Email: email}
		if err := s.CreateAccount(ctx, a); err != nil {
			t.Fatalf("CreateAccount: %v", err)
		}
		accts = append(accts, a)
	}
	// q4 is requested without a request (the operator set it): not listed.
	if err := s.SetAccountAccess(ctx, accts[3].ID, tack.AccessRequested, ""); err != nil {
		t.Fatalf("SetAccountAccess: %v", err)
	}
	// q3 asks first, then q1, then q2.
	for _, i := range []int{2, 0, 1} {
		MustRequestAccess(t, s, accts[i].ID, accts[i].Email)
		later()
	}
	if got, want := find(tack.AccessRequested), []int64{accts[2].ID, accts[0].ID, accts[1].ID}; !slices.Equal(got, want) {
		t.Errorf("waiting requests = %v, want %v (oldest first)", got, want)
	}
	reqs, err := s.FindAccessRequests(ctx, tack.AccessRequested)
	if err != nil {
		t.Fatalf("FindAccessRequests: %v", err)
	}
	checkAccessRequest(t, "listed request", reqs[0], MustFindAccessRequest(t, s, accts[2].ID))

	if err := s.SetAccountAccess(ctx, accts[0].ID, tack.AccessDenied, "no"); err != nil {
		t.Fatalf("SetAccountAccess: %v", err)
	}
	if err := s.SetAccountAccess(ctx, accts[1].ID, tack.AccessApproved, "yes"); err != nil {
		t.Fatalf("SetAccountAccess: %v", err)
	}
	if got, want := find(tack.AccessRequested), []int64{accts[2].ID}; !slices.Equal(got, want) {
		t.Errorf("waiting requests after two answers = %v, want %v", got, want)
	}
	if got, want := find(tack.AccessDenied), []int64{accts[0].ID}; !slices.Equal(got, want) {
		t.Errorf("denied requests = %v, want %v", got, want)
	}
	if got, want := find(tack.AccessApproved), []int64{accts[1].ID}; !slices.Equal(got, want) {
		t.Errorf("approved requests = %v, want %v", got, want)
	}

	// Asking again puts the request at the end.
	MustRequestAccess(t, s, accts[0].ID, "again")
	if got, want := find(tack.AccessRequested), []int64{accts[2].ID, accts[0].ID}; !slices.Equal(got, want) {
		t.Errorf("waiting requests after asking again = %v, want %v", got, want)
	}
	if got := find(tack.AccessDenied); len(got) != 0 {
		t.Errorf("denied requests after asking again = %v, want none", got)
	}
}
