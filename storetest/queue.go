package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tack-ipfs/tack"
)

// MustClaim claims up to n requests for owner, leased until until.
func MustClaim(tb testing.TB, s tack.Store, owner string, n int, until time.Time) []*tack.PinRequest {
	tb.Helper()
	pins, err := s.ClaimPins(tb.Context(), owner, n, until)
	if err != nil {
		tb.Fatalf("ClaimPins(%s, %d): %v", owner, n, err)
	}
	return pins
}

// MustRenew renews owner's leases on ids and returns the IDs it still
// holds, sorted.
func MustRenew(tb testing.TB, s tack.Store, owner string, ids []string, blocks, bytes int64) []string {
	tb.Helper()
	held, err := s.RenewLeases(tb.Context(), owner, ids, time.Now().Add(time.Hour), tack.Progress{Blocks: blocks, Bytes: bytes})
	if err != nil {
		tb.Fatalf("RenewLeases(%s, %v): %v", owner, ids, err)
	}
	held = slices.Clone(held)
	slices.Sort(held)
	return held
}

// sorted returns a sorted copy of ids.
func sorted(ids ...string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return orEmpty(out)
}

// checkStatus fails the test unless the account's request id has status
// want.
func checkStatus(tb testing.TB, s tack.Store, accountID int64, id string, want tack.Status) *tack.PinRequest {
	tb.Helper()
	r := MustFindPin(tb, s, accountID, id)
	if r.Status != want {
		tb.Errorf("request %s (%s): Status %q, want %q", id, r.Pin.Name, r.Status, want)
	}
	return r
}

func hour() time.Time { return time.Now().Add(time.Hour) }

func testClaimPins(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "ugo@example.com")
	if got := MustClaim(t, s, "w1", 5, hour()); len(got) != 0 {
		t.Errorf("ClaimPins on an empty queue = %v", ids(got))
	}
	p := MustCreatePins(t, s, a.ID, "q", 5)

	if got := MustClaim(t, s, "w1", 0, hour()); len(got) != 0 {
		t.Errorf("ClaimPins(n=0) = %v, want none", ids(got))
	}
	got := MustClaim(t, s, "w1", 3, hour())
	if want := ids(p[:3]); !slices.Equal(ids(got), want) {
		t.Errorf("ClaimPins(3) = %v, want the oldest %v", ids(got), want)
	}
	for i, r := range got {
		want := *p[i]
		want.Status = tack.StatusPinning
		checkPin(t, "claimed request", r, &want)
		checkPin(t, "claimed request, found", MustFindPin(t, s, a.ID, r.ID), &want)
	}
	got = MustClaim(t, s, "w2", 10, hour())
	if want := ids(p[3:]); !slices.Equal(ids(got), want) {
		t.Errorf("second ClaimPins = %v, want the rest %v", ids(got), want)
	}
	if got := MustClaim(t, s, "w3", 10, hour()); len(got) != 0 {
		t.Errorf("ClaimPins with every request leased = %v, want none", ids(got))
	}
}

func testClaimConcurrent(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "vera@example.com")
	p := MustCreatePins(t, s, a.ID, "c", 40)
	const workers = 8
	claimed := make([][]string, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			owner := fmt.Sprintf("worker-%d", w)
			for {
				got, err := s.ClaimPins(t.Context(), owner, 3, hour())
				if err != nil {
					t.Errorf("ClaimPins(%s): %v", owner, err)
					return
				}
				if len(got) == 0 {
					return
				}
				claimed[w] = append(claimed[w], ids(got)...)
			}
		})
	}
	wg.Wait()
	owners := map[string]int{}
	for w, list := range claimed {
		for _, id := range list {
			if prev, ok := owners[id]; ok {
				t.Errorf("request %s handed to worker %d and worker %d", id, prev, w)
			}
			owners[id] = w
		}
		// Each worker still holds what it claimed.
		if held := MustRenew(t, s, fmt.Sprintf("worker-%d", w), list, 0, 0); !slices.Equal(held, sorted(list...)) {
			t.Errorf("worker %d holds %v, claimed %v", w, held, list)
		}
	}
	if len(owners) != len(p) {
		t.Errorf("%d requests claimed, want %d", len(owners), len(p))
	}
}

func testExpiredLease(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "walt@example.com")
	p := MustCreatePins(t, s, a.ID, "lease", 2)

	// w1's lease on p[0] is live; on p[1] it has already run out.
	if got := MustClaim(t, s, "w1", 1, hour()); len(got) != 1 || got[0].ID != p[0].ID {
		t.Fatalf("ClaimPins = %v, want %s", ids(got), p[0].ID)
	}
	if got := MustClaim(t, s, "w1", 1, time.Now().Add(-time.Minute)); len(got) != 1 || got[0].ID != p[1].ID {
		t.Fatalf("ClaimPins = %v, want %s", ids(got), p[1].ID)
	}

	got := MustClaim(t, s, "w2", 10, hour())
	if len(got) != 1 || got[0].ID != p[1].ID {
		t.Fatalf("w2's ClaimPins = %v, want the expired %s only", ids(got), p[1].ID)
	}
	checkStatus(t, s, a.ID, p[1].ID, tack.StatusPinning)
	if held := MustRenew(t, s, "w1", ids(p), 0, 0); !slices.Equal(held, []string{p[0].ID}) {
		t.Errorf("w1 holds %v after losing its lease, want only %s", held, p[0].ID)
	}
	if held := MustRenew(t, s, "w2", ids(p), 0, 0); !slices.Equal(held, []string{p[1].ID}) {
		t.Errorf("w2 holds %v, want %s", held, p[1].ID)
	}
	// The old owner can neither release nor fail what it lost.
	if err := s.ReleasePins(t.Context(), "w1", []string{p[1].ID}); err != nil {
		t.Fatalf("ReleasePins: %v", err)
	}
	if err := s.FailPins(t.Context(), "w1", []string{p[1].ID}, "stale worker"); err != nil {
		t.Fatalf("FailPins: %v", err)
	}
	checkStatus(t, s, a.ID, p[1].ID, tack.StatusPinning)
	if held := MustRenew(t, s, "w2", []string{p[1].ID}, 0, 0); len(held) != 1 {
		t.Errorf("w2 lost %s to a stale worker", p[1].ID)
	}

	// A renewed lease no longer expires: nothing is left to claim.
	if got := MustClaim(t, s, "w3", 10, hour()); len(got) != 0 {
		t.Errorf("ClaimPins with live leases = %v, want none", ids(got))
	}
}

func testRenewProgress(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "xia@example.com")
	p := MustCreatePins(t, s, a.ID, "prog", 2)
	MustClaim(t, s, "w1", 2, hour())

	held := MustRenew(t, s, "w1", []string{p[0].ID, "no-such-request"}, 7, 700)
	if !slices.Equal(held, []string{p[0].ID}) {
		t.Errorf("RenewLeases = %v, want %s", held, p[0].ID)
	}
	r := checkStatus(t, s, a.ID, p[0].ID, tack.StatusPinning)
	if r.Blocks != 7 || r.Bytes != 700 {
		t.Errorf("after renewal Blocks %d, Bytes %d, want 7 and 700", r.Blocks, r.Bytes)
	}
	if r := MustFindPin(t, s, a.ID, p[1].ID); r.Blocks != 0 || r.Bytes != 0 {
		t.Errorf("request not renewed: Blocks %d, Bytes %d, want 0 and 0", r.Blocks, r.Bytes)
	}
	if held := MustRenew(t, s, "w2", ids(p), 1, 1); len(held) != 0 {
		t.Errorf("another owner renewed %v", held)
	}
	if held := MustRenew(t, s, "w1", nil, 1, 1); len(held) != 0 {
		t.Errorf("RenewLeases(no ids) = %v", held)
	}
}

func testRenewDeleted(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "yves@example.com")
	p := MustCreatePins(t, s, a.ID, "del", 3)
	MustClaim(t, s, "w1", 3, hour())
	if err := s.DeletePin(t.Context(), a.ID, p[1].ID); err != nil {
		t.Fatalf("DeletePin: %v", err)
	}
	replacement := NewPin(t, a.ID, "replacement")
	if err := s.ReplacePin(t.Context(), a.ID, p[2].ID, replacement); err != nil {
		t.Fatalf("ReplacePin: %v", err)
	}
	if held := MustRenew(t, s, "w1", ids(p), 0, 0); !slices.Equal(held, []string{p[0].ID}) {
		t.Errorf("RenewLeases = %v, want only %s (the others were deleted or replaced)", held, p[0].ID)
	}
	if got := MustClaim(t, s, "w2", 10, hour()); len(got) != 1 || got[0].ID != replacement.ID {
		t.Errorf("ClaimPins = %v, want the replacement %s", ids(got), replacement.ID)
	}
}

func testReleasePins(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "zack@example.com")
	p := MustCreatePins(t, s, a.ID, "rel", 4)
	MustClaim(t, s, "w1", 2, hour()) // p0, p1
	MustClaim(t, s, "w2", 1, hour()) // p2; p3 stays queued
	MustRenew(t, s, "w1", ids(p[:2]), 5, 500)

	if err := s.ReleasePins(t.Context(), "w2", ids(p)); err != nil {
		t.Fatalf("ReleasePins: %v", err)
	}
	checkStatus(t, s, a.ID, p[0].ID, tack.StatusPinning)
	checkStatus(t, s, a.ID, p[1].ID, tack.StatusPinning)
	checkStatus(t, s, a.ID, p[2].ID, tack.StatusQueued)
	checkStatus(t, s, a.ID, p[3].ID, tack.StatusQueued)

	if err := s.ReleasePins(t.Context(), "w1", []string{p[1].ID}); err != nil {
		t.Fatalf("ReleasePins: %v", err)
	}
	checkStatus(t, s, a.ID, p[1].ID, tack.StatusQueued)
	if held := MustRenew(t, s, "w1", ids(p[:2]), 0, 0); !slices.Equal(held, []string{p[0].ID}) {
		t.Errorf("w1 holds %v after releasing %s, want only %s", held, p[1].ID, p[0].ID)
	}
	got := MustClaim(t, s, "w3", 10, hour())
	if want := ids(p[1:]); !slices.Equal(ids(got), want) {
		t.Errorf("ClaimPins after release = %v, want %v oldest first", ids(got), want)
	}
}

func testReleaseAllPins(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "zoe@example.com")
	p := MustCreatePins(t, s, a.ID, "relall", 4)
	MustClaim(t, s, "w1", 2, hour()) // p0, p1
	MustClaim(t, s, "w2", 1, hour()) // p2; p3 stays queued
	if err := s.ReleasePins(t.Context(), "w1", nil); err != nil {
		t.Fatalf("ReleasePins(nil): %v", err)
	}
	checkStatus(t, s, a.ID, p[0].ID, tack.StatusQueued)
	checkStatus(t, s, a.ID, p[1].ID, tack.StatusQueued)
	checkStatus(t, s, a.ID, p[2].ID, tack.StatusPinning)
	checkStatus(t, s, a.ID, p[3].ID, tack.StatusQueued)
	if err := s.ReleasePins(t.Context(), "w1", []string{}); err != nil {
		t.Fatalf("ReleasePins(empty): %v", err)
	}
	checkStatus(t, s, a.ID, p[2].ID, tack.StatusPinning)
}

func testFailPins(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "abe@example.com")
	p := MustCreatePins(t, s, a.ID, "fail", 4)
	MustClaim(t, s, "w1", 2, hour()) // p0, p1
	MustClaim(t, s, "w2", 1, hour()) // p2; p3 stays queued

	if err := s.FailPins(t.Context(), "w2", ids(p), "timeout: no providers"); err != nil {
		t.Fatalf("FailPins: %v", err)
	}
	r := checkStatus(t, s, a.ID, p[2].ID, tack.StatusFailed)
	if got, want := r.Details, "timeout: no providers"; got != want {
		t.Errorf("Details = %q, want %q", got, want)
	}
	checkStatus(t, s, a.ID, p[0].ID, tack.StatusPinning)
	checkStatus(t, s, a.ID, p[1].ID, tack.StatusPinning)
	checkStatus(t, s, a.ID, p[3].ID, tack.StatusQueued)

	if held := MustRenew(t, s, "w2", []string{p[2].ID}, 0, 0); len(held) != 0 {
		t.Errorf("a failed request's lease was renewed")
	}
	got := MustClaim(t, s, "w3", 10, hour())
	if !slices.Equal(ids(got), []string{p[3].ID}) {
		t.Errorf("ClaimPins = %v, want only the queued %s (failed requests are not retried)", ids(got), p[3].ID)
	}
	pins, _ := MustFindPins(t, s, tack.PinFilter{AccountID: a.ID, Statuses: []tack.Status{tack.StatusFailed}, Limit: 10})
	if !slices.Equal(ids(pins), []string{p[2].ID}) {
		t.Errorf("FindPins(failed) = %v, want %s", ids(pins), p[2].ID)
	}
}

func testCompleteDAG(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "bea@example.com")
	b := MustCreateAccount(t, s, "cyd@example.com")
	c, key := NewCID(t)
	withKey := func(accountID int64, name string) *tack.PinRequest {
		r := NewPin(t, accountID, name)
		r.Pin.CID, r.Key = c, key
		return MustCreatePin(t, s, r)
	}
	failed := withKey(a.ID, "failed")
	MustClaim(t, s, "w1", 1, hour())
	if err := s.FailPins(t.Context(), "w1", []string{failed.ID}, "gave up"); err != nil {
		t.Fatalf("FailPins: %v", err)
	}
	pinning := withKey(b.ID, "pinning")
	MustClaim(t, s, "w1", 1, hour())
	queued := withKey(a.ID, "queued")
	other := MustCreatePin(t, s, NewPin(t, a.ID, "other"))

	if err := s.CompleteDAG(t.Context(), &tack.DAG{Key: key, Blocks: 10, Bytes: 1000}); err != nil {
		t.Fatalf("CompleteDAG: %v", err)
	}
	for _, r := range []*tack.PinRequest{pinning, queued} {
		got := checkStatus(t, s, r.AccountID, r.ID, tack.StatusPinned)
		if got.Blocks != 10 || got.Bytes != 1000 || got.Details != "" {
			t.Errorf("pinned request %s: Blocks %d, Bytes %d, Details %q; want 10, 1000, \"\"", r.Pin.Name, got.Blocks, got.Bytes, got.Details)
		}
	}
	if got := checkStatus(t, s, a.ID, failed.ID, tack.StatusFailed); got.Details != "gave up" {
		t.Errorf("failed request: Details %q, want it unchanged", got.Details)
	}
	checkStatus(t, s, a.ID, other.ID, tack.StatusQueued)

	if held := MustRenew(t, s, "w1", []string{pinning.ID}, 0, 0); len(held) != 0 {
		t.Errorf("the lease of a pinned request was renewed")
	}
	if got := MustClaim(t, s, "w2", 10, hour()); !slices.Equal(ids(got), []string{other.ID}) {
		t.Errorf("ClaimPins = %v, want only %s", ids(got), other.ID)
	}
}

func testCompleteThenCreate(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "dan@example.com")
	b := MustCreateAccount(t, s, "ela@example.com")
	c, key := NewCID(t)
	if err := s.CompleteDAG(t.Context(), &tack.DAG{Key: key, Blocks: 3, Bytes: 300}); err != nil {
		t.Fatalf("CompleteDAG: %v", err)
	}
	for _, acct := range []int64{a.ID, b.ID} {
		r := NewPin(t, acct, "held")
		r.Pin.CID, r.Key = c, key
		MustCreatePin(t, s, r)
		if r.Status != tack.StatusPinned || r.Blocks != 3 || r.Bytes != 300 {
			t.Errorf("CreatePin of a held DAG: Status %q, Blocks %d, Bytes %d; want pinned, 3, 300", r.Status, r.Blocks, r.Bytes)
		}
		checkPin(t, "FindPinByID", MustFindPin(t, s, acct, r.ID), r)
	}

	old := MustCreatePin(t, s, NewPin(t, a.ID, "old"))
	r := NewPin(t, a.ID, "replacement")
	r.Pin.CID, r.Key = c, key
	if err := s.ReplacePin(t.Context(), a.ID, old.ID, r); err != nil {
		t.Fatalf("ReplacePin: %v", err)
	}
	if r.Status != tack.StatusPinned || r.Blocks != 3 || r.Bytes != 300 {
		t.Errorf("ReplacePin with a held DAG: Status %q, Blocks %d, Bytes %d; want pinned, 3, 300", r.Status, r.Blocks, r.Bytes)
	}
	checkPin(t, "FindPinByID(replacement)", MustFindPin(t, s, a.ID, r.ID), r)
	if got := MustClaim(t, s, "w1", 10, hour()); len(got) != 0 {
		t.Errorf("ClaimPins = %v, want none: every request is pinned", ids(got))
	}
}

func testFindDAG(t *testing.T, s tack.Store) {
	_, key := NewCID(t)
	_, err := s.FindDAG(t.Context(), key)
	checkCode(t, "FindDAG(unknown)", err, tack.ENOTFOUND)

	for _, d := range []tack.DAG{{Key: key, Blocks: 2, Bytes: 20}, {Key: key, Blocks: 4, Bytes: 40}} {
		if err := s.CompleteDAG(t.Context(), &d); err != nil {
			t.Fatalf("CompleteDAG: %v", err)
		}
		got, err := s.FindDAG(t.Context(), key)
		if err != nil {
			t.Fatalf("FindDAG: %v", err)
		}
		if *got != d {
			t.Errorf("FindDAG = %+v, want %+v", got, d)
		}
	}
}

func testQueuePositions(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "vera@example.com")
	b := MustCreateAccount(t, s, "walt@example.com")
	// The queue interleaves both accounts, oldest first.
	var all []*tack.PinRequest
	for i := range 3 {
		all = append(all, MustCreatePins(t, s, a.ID, fmt.Sprintf("a%d", i), 1)...)
		all = append(all, MustCreatePins(t, s, b.ID, fmt.Sprintf("b%d", i), 1)...)
	}
	positions := func(reqs ...*tack.PinRequest) []int64 {
		t.Helper()
		if err := s.QueuePositions(t.Context(), reqs); err != nil {
			t.Fatalf("QueuePositions: %v", err)
		}
		out := []int64{}
		for _, r := range reqs {
			out = append(out, r.Position)
		}
		return out
	}
	fresh := func(r *tack.PinRequest) *tack.PinRequest { return MustFindPin(t, s, r.AccountID, r.ID) }

	if got := positions(fresh(all[0])); !slices.Equal(got, []int64{1}) {
		t.Errorf("oldest request: position %v, want [1]", got)
	}
	if got := positions(fresh(all[5]), fresh(all[1]), fresh(all[4])); !slices.Equal(got, []int64{6, 2, 5}) {
		t.Errorf("positions of 6th, 2nd and 5th = %v, want [6 2 5]", got)
	}
	// A claimed request leaves the queue; the others move up.
	claimed := MustClaim(t, s, "w1", 2, hour())
	if got := ids(claimed); !slices.Equal(got, ids(all[:2])) {
		t.Fatalf("claimed %v, want %v", got, ids(all[:2]))
	}
	reqs := []*tack.PinRequest{fresh(all[0]), fresh(all[2]), fresh(all[3]), fresh(all[5])}
	if got := positions(reqs...); !slices.Equal(got, []int64{0, 1, 2, 4}) {
		t.Errorf("after two claims: positions %v, want [0 1 2 4] (the pinning one untouched)", got)
	}
	// A deleted request leaves it too, and one that a listing still shows
	// as queued counts from where it was.
	stale := fresh(all[3])
	if err := s.DeletePin(t.Context(), b.ID, all[3].ID); err != nil {
		t.Fatal(err)
	}
	if got := positions(stale, fresh(all[4]), fresh(all[5])); !slices.Equal(got, []int64{2, 2, 3}) {
		t.Errorf("after a delete: positions %v, want [2 2 3]", got)
	}
	if err := s.QueuePositions(t.Context(), nil); err != nil {
		t.Errorf("QueuePositions(nil): %v", err)
	}
}
