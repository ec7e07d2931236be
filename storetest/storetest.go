// Package storetest is the conformance suite of tack.Store: every
// implementation's test calls Run, and passes when it keeps every promise
// that the root package's interface comments make.
//
// The suite uses only the tack.Store interface. The store's clock must be
// the real time (or close to it): the suite checks created times against
// time.Now and claims leases that expire in the past.
package storetest

import (
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
	"github.com/tack-ipfs/tack"
)

// Run runs the whole suite. open must return a new, empty store for each
// subtest; Run closes it when the subtest ends. The subtests run in
// parallel, each on its own store.
func Run(t *testing.T, open func(t *testing.T) tack.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s tack.Store)
	}{
		{"Account/Create", testCreateAccount},
		{"Account/Invalid", testCreateAccountInvalid},
		{"Account/DuplicateEmail", testDuplicateEmail},
		{"Account/FindByEmail", testFindAccountByEmail},
		{"Account/NotFound", testAccountNotFound},
		{"Account/FindAll", testFindAccounts},
		{"Account/SetAccess", testSetAccountAccess},
		{"Account/BlockedAndPassword", testBlockedAndPassword},

		{"Access/Request", testRequestAccess},
		{"Access/RequestNotFound", testRequestAccessNotFound},
		{"Access/AnswerWithoutRequest", testAnswerWithoutRequest},
		{"Access/FindRequests", testFindAccessRequests},

		{"Usage/Counts", testUsageCounts},
		{"Usage/DistinctDAGs", testUsageDistinctDAGs},

		{"Secret/Ensure", testEnsureSecret},
		{"Secret/Concurrent", testEnsureSecretConcurrent},

		{"Node/SaveFind", testSaveFindNodes},
		{"Node/Collection", testCollection},
		{"Node/CollectionConcurrent", testCollectionConcurrent},
		{"Node/CollectionKeeps", testCollectionKeeps},
		{"Node/UploadKeeps", testUploadKeeps},
		{"Node/UploadKeepUsage", testUploadKeepUsage},

		{"Token/Create", testCreateToken},
		{"Token/CreateErrors", testCreateTokenErrors},
		{"Token/FindTokens", testFindTokens},
		{"Token/Revoke", testRevokeToken},
		{"Token/Touch", testTouchToken},
		{"Token/Limit", testTokenLimit},
		{"Token/RevokeAll", testRevokeTokens},
		{"Token/FindTokenAndAccount", testFindTokenAndAccount},
		{"Token/Scope", testTokenScope},

		{"Pin/Create", testCreatePin},
		{"Pin/CreateUnknownAccount", testCreatePinUnknownAccount},
		{"Pin/SameCIDTwice", testSameCIDTwice},
		{"Pin/CreatedIncreasing", testCreatedIncreasing},
		{"Pin/CreatedConcurrent", testCreatedConcurrent},
		{"Pin/CreatedAfterDelete", testCreatedAfterDelete},
		{"Pin/Delete", testDeletePin},
		{"Pin/Replace", testReplacePin},
		{"Pin/ReplaceUnknown", testReplacePinUnknown},
		{"Pin/ReplaceAtomic", testReplacePinAtomic},
		{"Pin/AccountsIsolated", testAccountsIsolated},

		{"FindPins/Pagination", testPagination},
		{"FindPins/BeforeAfter", testBeforeAfter},
		{"FindPins/Name", testFindPinsName},
		{"FindPins/Status", testFindPinsStatus},
		{"FindPins/Keys", testFindPinsKeys},
		{"FindPins/Meta", testFindPinsMeta},
		{"FindPins/Limit", testFindPinsLimit},
		{"FindPins/Combined", testFindPinsCombined},
		{"FindPins/Empty", testFindPinsEmpty},
		{"FindPins/AsFindPinByID", testFindPinsAsFindPinByID},

		{"Queue/Claim", testClaimPins},
		{"Queue/Positions", testQueuePositions},
		{"Queue/ClaimConcurrent", testClaimConcurrent},
		{"Queue/ExpiredLease", testExpiredLease},
		{"Queue/RenewProgress", testRenewProgress},
		{"Queue/RenewDeleted", testRenewDeleted},
		{"Queue/Release", testReleasePins},
		{"Queue/ReleaseAll", testReleaseAllPins},
		{"Queue/Fail", testFailPins},
		{"Queue/CompleteDAG", testCompleteDAG},
		{"Queue/CompleteThenCreate", testCompleteThenCreate},
		{"Queue/FindDAG", testFindDAG},
		{"Queue/FairTurns", testFairTurns},
		{"Queue/FairBacklog", testFairBacklog},
		{"Queue/Retry", testRetry},
		{"Queue/RetryBehindOwnTurns", testRetryBehindOwnTurns},
		{"Queue/RetryProgress", testRetryProgress},
		{"Queue/StatusCounts", testStatusCounts},
		{"Queue/DeepPositions", testDeepPositions},
		{"Queue/BlockedHeld", testBlockedHeld},
		{"Limits/Pending", testLimitsPending},
		{"Limits/Bytes", testLimitsBytes},
		{"Limits/Admission", testAdmission},
		{"DAG/List", testListDAGs},
		{"DAG/Forget", testForgetDAGs},
		{"DAG/Wanted", testWantedKeys},
		{"DAG/Requeue", testRequeueDAG},

		{"Session/Create", testCreateSession},
		{"Session/Delete", testDeleteSessions},
		{"Session/Expired", testExpiredSessions},

		{"Invite/Create", testCreateInvite},
		{"Invite/CreateAccount", testCreateAccountWithInvite},
		{"Invite/EmailTaken", testInviteEmailTaken},
		{"PasswordReset", testPasswordReset},
		{"PasswordReset/Refused", testPasswordResetRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.fn(t, s)
		})
	}
}

// MustCreateAccount creates an account with the given email and approved
// access.
func MustCreateAccount(tb testing.TB, s tack.Store, email string) *tack.Account {
	tb.Helper()
	a := &tack.Account{Email: email, Access: tack.AccessApproved}
	if err := s.CreateAccount(tb.Context(), a); err != nil {
		tb.Fatalf("CreateAccount(%q): %v", email, err)
	}
	return a
}

// NewCID returns a random raw CIDv1 and its content key.
func NewCID(tb testing.TB) (c string, key string) {
	tb.Helper()
	buf := make([]byte, 32)
	rand.Read(buf)
	mh, err := multihash.Sum(buf, multihash.SHA2_256, -1)
	if err != nil {
		tb.Fatal(err)
	}
	id := cid.NewCidV1(cid.Raw, mh)
	return id.String(), tack.ContentKey(id)
}

// NewPin returns a queued request of the account for a random CID, named
// name.
func NewPin(tb testing.TB, accountID int64, name string) *tack.PinRequest {
	tb.Helper()
	c, key := NewCID(tb)
	return &tack.PinRequest{
		AccountID: accountID,
		Pin:       tack.Pin{CID: c, Name: name},
		Key:       key,
		Status:    tack.StatusQueued,
	}
}

// MustCreatePin stores r and returns it.
func MustCreatePin(tb testing.TB, s tack.Store, r *tack.PinRequest) *tack.PinRequest {
	tb.Helper()
	if err := s.CreatePin(tb.Context(), r); err != nil {
		tb.Fatalf("CreatePin(%s): %v", r.Pin.CID, err)
	}
	return r
}

// MustCreatePins stores n new requests of the account, named name-0,
// name-1, …, and returns them in creation order.
func MustCreatePins(tb testing.TB, s tack.Store, accountID int64, name string, n int) []*tack.PinRequest {
	tb.Helper()
	pins := make([]*tack.PinRequest, n)
	for i := range pins {
		pins[i] = MustCreatePin(tb, s, NewPin(tb, accountID, fmt.Sprintf("%s-%d", name, i)))
	}
	return pins
}

// MustFindPin returns the account's request id.
func MustFindPin(tb testing.TB, s tack.Store, accountID int64, id string) *tack.PinRequest {
	tb.Helper()
	r, err := s.FindPinByID(tb.Context(), accountID, id)
	if err != nil {
		tb.Fatalf("FindPinByID(%d, %s): %v", accountID, id, err)
	}
	return r
}

// MustFindPins returns the matching requests and their count.
func MustFindPins(tb testing.TB, s tack.Store, f tack.PinFilter) ([]*tack.PinRequest, int) {
	tb.Helper()
	pins, n, err := s.FindPins(tb.Context(), f)
	if err != nil {
		tb.Fatalf("FindPins(%+v): %v", f, err)
	}
	return pins, n
}

// allStatuses is a status filter that matches every request.
var allStatuses = []tack.Status{tack.StatusQueued, tack.StatusPinning, tack.StatusPinned, tack.StatusFailed}

// checkCode fails the test unless err has the code want.
func checkCode(tb testing.TB, what string, err error, want string) {
	tb.Helper()
	if got := tack.ErrorCode(err); got != want {
		tb.Errorf("%s: error code %q (%v), want %q", what, got, err, want)
	}
}

// checkTime fails the test unless t is in UTC, has microsecond precision
// and is within [from truncated to µs, to + slack].
func checkTime(tb testing.TB, what string, t, from, to time.Time) {
	tb.Helper()
	if t.Location() != time.UTC {
		tb.Errorf("%s = %v: location %v, want UTC", what, t, t.Location())
	}
	if !t.Equal(t.Truncate(time.Microsecond)) {
		tb.Errorf("%s = %v: finer than microseconds", what, t)
	}
	if t.Before(from.Truncate(time.Microsecond)) || t.After(to.Add(time.Second)) {
		tb.Errorf("%s = %v, want between %v and %v", what, t, from, to)
	}
}

// ids returns the IDs of pins.
func ids(pins []*tack.PinRequest) []string {
	out := make([]string, len(pins))
	for i, r := range pins {
		out[i] = r.ID
	}
	return out
}
