package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tack-ipfs/tack"
)

// MustRetry puts owner's requests ids back in the queue until at.
func MustRetry(tb testing.TB, s tack.Store, owner string, ids []string, at time.Time, reason string, p tack.Progress) {
	tb.Helper()
	var retries []tack.Retry
	for _, id := range ids {
		retries = append(retries, tack.Retry{ID: id, At: at})
	}
	if err := s.RetryPins(tb.Context(), owner, retries, reason, p); err != nil {
		tb.Fatalf("RetryPins(%s, %v): %v", owner, ids, err)
	}
}

// MustSetLimits sets an account's own limits.
func MustSetLimits(tb testing.TB, s tack.Store, accountID int64, maxPending, maxBytes *int64) {
	tb.Helper()
	if err := s.SetAccountLimits(tb.Context(), accountID, maxPending, maxBytes); err != nil {
		tb.Fatalf("SetAccountLimits(%d): %v", accountID, err)
	}
}

func ptr(n int64) *int64 { return &n }

// claimOneByOne claims n requests one at a time and returns their names.
func claimOneByOne(tb testing.TB, s tack.Store, n int) []string {
	tb.Helper()
	var names []string
	for range n {
		got := MustClaim(tb, s, "w1", 1, hour())
		if len(got) != 1 {
			tb.Fatalf("claim %d: got %d requests, want 1", len(names)+1, len(got))
		}
		names = append(names, got[0].Pin.Name)
	}
	return names
}

func testFairTurns(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "ann@example.com")
	b := MustCreateAccount(t, s, "bob@example.com")
	MustCreatePins(t, s, a.ID, "a", 4)
	MustCreatePins(t, s, b.ID, "b", 2)
	// Turns alternate, whatever came first: each account's k-th request
	// comes before any account's (k+1)-th.
	got := claimOneByOne(t, s, 6)
	if want := []string{"a-0", "b-0", "a-1", "b-1", "a-2", "a-3"}; !slices.Equal(got, want) {
		t.Errorf("claim order %v, want %v", got, want)
	}
}

func testFairBacklog(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "cat@example.com")
	b := MustCreateAccount(t, s, "dan@example.com")
	MustCreatePins(t, s, a.ID, "a", 30)
	if got := claimOneByOne(t, s, 10); got[9] != "a-9" {
		t.Fatalf("claims %v", got)
	}
	// b arrives behind a's backlog of 20, yet its requests take turns
	// with a's next ones instead of waiting for all of them.
	MustCreatePins(t, s, b.ID, "b", 2)
	got := claimOneByOne(t, s, 4)
	if want := []string{"a-10", "b-0", "a-11", "b-1"}; !slices.Equal(got, want) {
		t.Errorf("after b's requests: claim order %v, want %v", got, want)
	}
	// An account that was idle while the queue moved on gets no credit
	// for its idle time: its new requests start at the current turn.
	claimOneByOne(t, s, 8)
	MustCreatePins(t, s, b.ID, "b-late", 1)
	got = claimOneByOne(t, s, 3)
	if !slices.Contains(got, "b-late-0") {
		t.Errorf("a late request of b: next claims %v, want it among them", got)
	}
	if !slices.Contains(got[:2], "b-late-0") {
		t.Errorf("a late request of b waited behind %v", got)
	}
}

func testRetry(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "eve@example.com")
	p := MustCreatePins(t, s, a.ID, "r", 3)
	claimed := MustClaim(t, s, "w1", 1, hour())
	if len(claimed) != 1 || claimed[0].ID != p[0].ID {
		t.Fatalf("claimed %v, want %s", ids(claimed), p[0].ID)
	}
	// Another owner cannot put it back.
	MustRetry(t, s, "w2", []string{p[0].ID}, time.Now(), "not yours", tack.Progress{})
	checkStatus(t, s, a.ID, p[0].ID, tack.StatusPinning)

	next := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	MustRetry(t, s, "w1", []string{p[0].ID}, next, "no provider found yet", tack.Progress{})
	r := checkStatus(t, s, a.ID, p[0].ID, tack.StatusQueued)
	if r.Attempts != 1 || !r.RetryAt.Equal(next) || r.Details != "no provider found yet" {
		t.Errorf("after RetryPins: Attempts %d, RetryAt %v, Details %q; want 1, %v, the reason", r.Attempts, r.RetryAt, r.Details, next)
	}
	info := r.Info()["status_details"]
	if !strings.Contains(info, "no provider found yet") || !strings.Contains(info, "attempt 1") || !strings.Contains(info, next.UTC().Format(time.RFC3339)) {
		t.Errorf("status_details %q: want the reason, the attempt and the next try", info)
	}
	if err := s.QueuePositions(t.Context(), []*tack.PinRequest{r}); err != nil || r.Position != 0 {
		t.Errorf("a waiting request: Position %d (%v), want 0", r.Position, err)
	}
	// While it waits, the others go ahead, and it is not claimed.
	got := MustClaim(t, s, "w1", 10, hour())
	if want := ids(p[1:]); !slices.Equal(ids(got), want) {
		t.Errorf("claimed %v while one waits, want %v", ids(got), want)
	}
	if got := MustClaim(t, s, "w1", 10, hour()); len(got) != 0 {
		t.Errorf("claimed %v before its retry time", ids(got))
	}
	// Once due, it is claimed again, and a second attempt is counted.
	MustRetry(t, s, "w1", []string{p[1].ID}, time.Now().Add(-time.Second), "again", tack.Progress{})
	got = MustClaim(t, s, "w1", 10, hour())
	if !slices.Equal(ids(got), []string{p[1].ID}) {
		t.Fatalf("claimed %v, want the due request %s", ids(got), p[1].ID)
	}
	if got[0].Attempts != 1 || !got[0].RetryAt.IsZero() {
		t.Errorf("claimed after a retry: Attempts %d, RetryAt %v; want 1 and zero", got[0].Attempts, got[0].RetryAt)
	}
	MustRetry(t, s, "w1", []string{p[1].ID}, time.Now().Add(-time.Second), "again", tack.Progress{})
	got = MustClaim(t, s, "w1", 10, hour())
	if len(got) != 1 || got[0].Attempts != 2 {
		t.Errorf("second retry: claimed %v", got)
	}
}

func testRetryBehindOwnTurns(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "fay@example.com")
	p := MustCreatePins(t, s, a.ID, "t", 4)
	MustClaim(t, s, "w1", 1, hour())
	// A retry that falls due goes behind the account's other waiting
	// requests: a request that cannot be found does not keep its place.
	MustRetry(t, s, "w1", []string{p[0].ID}, time.Now().Add(-time.Second), "nothing yet", tack.Progress{})
	if got, want := claimOneByOne(t, s, 4), []string{"t-1", "t-2", "t-3", "t-0"}; !slices.Equal(got, want) {
		t.Errorf("claim order %v, want %v", got, want)
	}
}

func testRetryProgress(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "gil@example.com")
	p := MustCreatePins(t, s, a.ID, "p", 1)
	created := MustFindPin(t, s, a.ID, p[0].ID)
	if !created.ProgressAt.Equal(created.Created) {
		t.Errorf("new request: ProgressAt %v, want its Created %v", created.ProgressAt, created.Created)
	}
	MustClaim(t, s, "w1", 1, hour())
	later := created.Created.Add(time.Minute)
	held, err := s.RenewLeases(t.Context(), "w1", ids(p), hour(), tack.Progress{Blocks: 3, Bytes: 30, At: later})
	if err != nil || len(held) != 1 {
		t.Fatalf("RenewLeases = %v, %v", held, err)
	}
	if r := MustFindPin(t, s, a.ID, p[0].ID); !r.ProgressAt.Equal(later) || r.Blocks != 3 {
		t.Errorf("after renewal: ProgressAt %v, Blocks %d; want %v and 3", r.ProgressAt, r.Blocks, later)
	}
	// Progress never goes back.
	MustRetry(t, s, "w1", ids(p), hour(), "stalled", tack.Progress{At: created.Created})
	if r := MustFindPin(t, s, a.ID, p[0].ID); !r.ProgressAt.Equal(later) || r.Blocks != 0 {
		t.Errorf("after a retry with older progress: ProgressAt %v, Blocks %d; want %v and 0", r.ProgressAt, r.Blocks, later)
	}
}

func testLimitsPending(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "hal@example.com")
	b := MustCreateAccount(t, s, "ida@example.com")
	checkCode(t, "negative limit", s.SetAccountLimits(t.Context(), a.ID, ptr(-1), nil), tack.EINVALID)
	checkCode(t, "unknown account", s.SetAccountLimits(t.Context(), 1<<40, ptr(1), nil), tack.ENOTFOUND)
	MustSetLimits(t, s, a.ID, ptr(2), ptr(5000))
	got := MustFindAccount(t, s, a.ID)
	if got.MaxPending == nil || *got.MaxPending != 2 || got.MaxBytes == nil || *got.MaxBytes != 5000 {
		t.Fatalf("limits not stored: %+v", got)
	}
	if l := got.Limits(tack.Limits{MaxPending: 9, MaxBytes: 9}); l != (tack.Limits{MaxPending: 2, MaxBytes: 5000}) {
		t.Errorf("Limits = %+v", l)
	}

	p := MustCreatePins(t, s, a.ID, "p", 2)
	over := NewPin(t, a.ID, "over")
	checkCode(t, "a request over MaxPending", s.CreatePin(t.Context(), over), tack.EQUOTA)
	if _, n := MustFindPins(t, s, tack.PinFilter{AccountID: a.ID, Statuses: allStatuses}); n != 2 {
		t.Errorf("%d requests stored, want 2", n)
	}
	// Another account is not limited by it.
	MustCreatePins(t, s, b.ID, "b", 3)
	// A claimed request is still pending; one that ends frees a place.
	MustClaim(t, s, "w1", 1, hour())
	checkCode(t, "over MaxPending with one pinning", s.CreatePin(t.Context(), NewPin(t, a.ID, "x")), tack.EQUOTA)
	if err := s.CompleteDAG(t.Context(), &tack.DAG{Key: p[0].Key, Blocks: 1, Bytes: 10}); err != nil {
		t.Fatal(err)
	}
	MustCreatePin(t, s, NewPin(t, a.ID, "fits"))
	// nil returns to the server's default, which limits nothing here.
	MustSetLimits(t, s, a.ID, nil, nil)
	if got := MustFindAccount(t, s, a.ID); got.MaxPending != nil || got.MaxBytes != nil {
		t.Errorf("limits not reset: %+v", got)
	}
	MustCreatePins(t, s, a.ID, "more", 3)
}

func testLimitsBytes(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "jay@example.com")
	b := MustCreateAccount(t, s, "kim@example.com")
	MustSetLimits(t, s, a.ID, nil, ptr(1000))
	first := MustCreatePin(t, s, NewPin(t, a.ID, "first"))
	second := MustCreatePin(t, s, NewPin(t, a.ID, "second"))
	theirs := MustCreatePin(t, s, &tack.PinRequest{AccountID: b.ID, Pin: second.Pin, Key: second.Key})
	MustClaim(t, s, "w1", 10, hour())

	complete := func(key string, bytes int64) {
		t.Helper()
		if err := s.CompleteDAG(t.Context(), &tack.DAG{Key: key, Blocks: 1, Bytes: bytes}); err != nil {
			t.Fatalf("CompleteDAG: %v", err)
		}
	}
	complete(first.Key, 600)
	checkStatus(t, s, a.ID, first.ID, tack.StatusPinned)
	if u := MustFindUsage(t, s, a.ID); u.Bytes != 600 {
		t.Errorf("usage %d bytes, want 600", u.Bytes)
	}
	// 600 + 500 is over 1000: a's request fails and names the limit; b,
	// without a limit, pins the same DAG.
	complete(second.Key, 500)
	r := checkStatus(t, s, a.ID, second.ID, tack.StatusFailed)
	if !strings.Contains(r.Details, "storage limit") || !strings.Contains(r.Details, "1000") {
		t.Errorf("failed over the limit with details %q: want the limit named", r.Details)
	}
	checkStatus(t, s, b.ID, theirs.ID, tack.StatusPinned)
	if u := MustFindUsage(t, s, a.ID); u.Bytes != 600 {
		t.Errorf("usage %d bytes after the refused DAG, want 600", u.Bytes)
	}
	// A DAG the account holds already costs nothing more.
	again := MustCreatePin(t, s, &tack.PinRequest{AccountID: a.ID, Pin: first.Pin, Key: first.Key})
	if again.Status != tack.StatusPinned {
		t.Errorf("a second request for a held DAG: %s, want pinned", again.Status)
	}
	// A DAG tack holds whole that does not fit is refused at once.
	checkCode(t, "a held DAG over the limit", s.CreatePin(t.Context(), &tack.PinRequest{AccountID: a.ID, Pin: second.Pin, Key: second.Key}), tack.EQUOTA)
	// Deleting frees the account's room.
	for _, id := range []string{first.ID, again.ID} {
		if err := s.DeletePin(t.Context(), a.ID, id); err != nil {
			t.Fatal(err)
		}
	}
	if u := MustFindUsage(t, s, a.ID); u.Bytes != 0 {
		t.Errorf("usage %d bytes after deleting every pin, want 0", u.Bytes)
	}
	if r := MustCreatePin(t, s, &tack.PinRequest{AccountID: a.ID, Pin: second.Pin, Key: second.Key}); r.Status != tack.StatusPinned {
		t.Errorf("after making room: %s, want pinned", r.Status)
	}
}

func testStatusCounts(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "lou@example.com")
	p := MustCreatePins(t, s, a.ID, "c", 6)
	MustClaim(t, s, "w1", 4, hour())
	if err := s.FailPins(t.Context(), "w1", []string{p[0].ID}, "bad"); err != nil {
		t.Fatal(err)
	}
	if err := s.CompleteDAG(t.Context(), &tack.DAG{Key: p[1].Key, Blocks: 1, Bytes: 1}); err != nil {
		t.Fatal(err)
	}
	MustRetry(t, s, "w1", []string{p[2].ID}, hour(), "later", tack.Progress{})
	if err := s.DeletePin(t.Context(), a.ID, p[4].ID); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplacePin(t.Context(), a.ID, p[5].ID, NewPin(t, a.ID, "new")); err != nil {
		t.Fatal(err)
	}
	// queued: p[2] (waiting), new; pinning: p[3]; pinned: p[1]; failed: p[0].
	want := map[tack.Status]int{tack.StatusQueued: 2, tack.StatusPinning: 1, tack.StatusPinned: 1, tack.StatusFailed: 1}
	for st, n := range want {
		if _, got := MustFindPins(t, s, tack.PinFilter{AccountID: a.ID, Statuses: []tack.Status{st}, Limit: 1}); got != n {
			t.Errorf("count of %s = %d, want %d", st, got, n)
		}
	}
	if _, got := MustFindPins(t, s, tack.PinFilter{AccountID: a.ID, Statuses: []tack.Status{tack.StatusQueued, tack.StatusQueued, tack.StatusFailed}}); got != 3 {
		t.Errorf("count of queued,queued,failed = %d, want 3", got)
	}
	if u := MustFindUsage(t, s, a.ID); u.Pins[tack.StatusQueued] != 2 || u.Pins[tack.StatusFailed] != 1 {
		t.Errorf("usage %+v", u.Pins)
	}
}

func testDeepPositions(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "max@example.com")
	b := MustCreateAccount(t, s, "ned@example.com")
	p := MustCreatePins(t, s, a.ID, "deep", tack.MaxCountedPosition+5)
	mine := MustCreatePins(t, s, b.ID, "b", 1)
	last := MustFindPin(t, s, a.ID, p[len(p)-1].ID)
	// b's request takes turns with a's first one, so a's k-th (from 0)
	// is at k+2.
	edge := MustFindPin(t, s, a.ID, p[tack.MaxCountedPosition-2].ID)
	theirs := MustFindPin(t, s, b.ID, mine[0].ID)
	if err := s.QueuePositions(t.Context(), []*tack.PinRequest{last, edge, theirs}); err != nil {
		t.Fatal(err)
	}
	if edge.Position != tack.MaxCountedPosition || edge.PositionOver {
		t.Errorf("a's request %d: Position %d, over %v; want %d", tack.MaxCountedPosition-2, edge.Position, edge.PositionOver, tack.MaxCountedPosition)
	}
	if !last.PositionOver || last.OwnAhead != int64(len(p)-1) {
		t.Errorf("last request: over %v, own ahead %d; want true and %d", last.PositionOver, last.OwnAhead, len(p)-1)
	}
	if info := last.Info()["status_details"]; !strings.Contains(info, "more than 1000") {
		t.Errorf("status_details %q", info)
	}
	// b's first request takes turns with a's first: second in line.
	if theirs.Position != 2 {
		t.Errorf("another account's first request: Position %d, want 2", theirs.Position)
	}
}

func testBlockedHeld(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "oli@example.com")
	b := MustCreateAccount(t, s, "pia@example.com")
	pa := MustCreatePins(t, s, a.ID, "a", 4)
	MustCreatePins(t, s, b.ID, "b", 2)
	// Turns alternate: a-0, b-0 and a-1 are claimed, with leases that have
	// run out (their worker died); a-1 then waits to retry, and is due.
	if got := MustClaim(t, s, "w1", 3, time.Now().Add(-time.Second)); len(got) != 3 {
		t.Fatalf("claimed %v", ids(got))
	}
	MustRetry(t, s, "w1", []string{pa[1].ID}, time.Now().Add(-time.Second), "later", tack.Progress{})

	if err := s.SetAccountBlocked(t.Context(), a.ID, true); err != nil {
		t.Fatal(err)
	}
	r := checkStatus(t, s, a.ID, pa[2].ID, tack.StatusQueued)
	if !r.Held || !strings.Contains(r.Info()["status_details"], "held: the account is blocked") {
		t.Errorf("a blocked account's queued request: Held %v, details %q", r.Held, r.Info()["status_details"])
	}
	// Nothing of a's is claimed, however it came back to the queue.
	got := MustClaim(t, s, "w2", 10, hour())
	for _, r := range got {
		if r.AccountID == a.ID {
			t.Errorf("claimed %s of the blocked account", r.Pin.Name)
		}
	}
	if want := []string{"b-0", "b-1"}; !slices.Equal(names(got), want) {
		t.Errorf("claimed %v, want %v: b's expired claim, then its queued request", names(got), want)
	}
	for _, p := range pa {
		if r := MustFindPin(t, s, a.ID, p.ID); r.Status != tack.StatusQueued || !r.Held {
			t.Errorf("%s: %s, held %v; want queued and held", r.Pin.Name, r.Status, r.Held)
		}
	}

	if err := s.SetAccountBlocked(t.Context(), a.ID, false); err != nil {
		t.Fatal(err)
	}
	got = MustClaim(t, s, "w2", 10, hour())
	if want := []string{"a-0", "a-1", "a-2", "a-3"}; !slices.Equal(names(got), want) {
		t.Errorf("after unblocking: claimed %v, want %v", names(got), want)
	}

	n, err := s.PurgePins(t.Context(), a.ID)
	if err != nil || n != 4 {
		t.Errorf("PurgePins = %d, %v; want 4", n, err)
	}
	if _, n := MustFindPins(t, s, tack.PinFilter{AccountID: a.ID, Statuses: allStatuses}); n != 0 {
		t.Errorf("%d requests left after a purge", n)
	}
	if _, n := MustFindPins(t, s, tack.PinFilter{AccountID: b.ID, Statuses: allStatuses}); n != 2 {
		t.Errorf("the other account has %d requests after a purge, want 2", n)
	}
}

// names returns the names of pins.
func names(pins []*tack.PinRequest) []string {
	out := []string{}
	for _, r := range pins {
		out = append(out, r.Pin.Name)
	}
	return out
}
