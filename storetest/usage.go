package storetest

import (
	"testing"

	"github.com/tack-ipfs/tack"
)

// MustFindUsage returns the account's usage.
func MustFindUsage(tb testing.TB, s tack.Store, accountID int64) *tack.Usage {
	tb.Helper()
	u, err := s.FindUsage(tb.Context(), accountID)
	if err != nil {
		tb.Fatalf("FindUsage(%d): %v", accountID, err)
	}
	return u
}

// checkUsage fails the test unless got has every status, with the counts
// of want (missing statuses meaning 0), and want's bytes.
func checkUsage(tb testing.TB, what string, got *tack.Usage, want map[tack.Status]int, bytes int64) {
	tb.Helper()
	if got == nil {
		tb.Errorf("%s: no usage", what)
		return
	}
	if len(got.Pins) != len(allStatuses) {
		tb.Errorf("%s: Pins = %v, want exactly the %d statuses", what, got.Pins, len(allStatuses))
	}
	for _, st := range allStatuses {
		if n, ok := got.Pins[st]; !ok {
			tb.Errorf("%s: Pins has no %s", what, st)
		} else if n != want[st] {
			tb.Errorf("%s: Pins[%s] = %d, want %d", what, st, n, want[st])
		}
	}
	if got.Bytes != bytes {
		tb.Errorf("%s: Bytes = %d, want %d", what, got.Bytes, bytes)
	}
}

func testUsageCounts(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "gus@example.com")
	b := MustCreateAccount(t, s, "hana@example.com")
	idle := MustCreateAccount(t, s, "ines@example.com")
	checkUsage(t, "new account", MustFindUsage(t, s, a.ID), nil, 0)
	checkUsage(t, "unknown account", MustFindUsage(t, s, a.ID+1000), nil, 0)
	if got, err := s.FindUsages(t.Context()); err != nil {
		t.Fatalf("FindUsages: %v", err)
	} else if len(got) != 0 {
		t.Errorf("FindUsages with no requests = %v, want none", got)
	}

	mix := statusMix(t, s, a.ID) // two distinct DAGs of 100 bytes pinned
	MustCreatePins(t, s, b.ID, "other", 3)
	want := map[tack.Status]int{}
	for st, ids := range mix {
		want[st] = len(ids)
	}
	checkUsage(t, "FindUsage(a)", MustFindUsage(t, s, a.ID), want, 200)
	checkUsage(t, "FindUsage(b)", MustFindUsage(t, s, b.ID), map[tack.Status]int{tack.StatusQueued: 3}, 0)
	checkUsage(t, "FindUsage(idle)", MustFindUsage(t, s, idle.ID), nil, 0)

	all, err := s.FindUsages(t.Context())
	if err != nil {
		t.Fatalf("FindUsages: %v", err)
	}
	if len(all) != 2 {
		t.Errorf("FindUsages = %d accounts, want 2 (those with requests)", len(all))
	}
	checkUsage(t, "FindUsages[a]", all[a.ID], want, 200)
	checkUsage(t, "FindUsages[b]", all[b.ID], map[tack.Status]int{tack.StatusQueued: 3}, 0)
	if u, ok := all[idle.ID]; ok {
		t.Errorf("FindUsages has the account without requests: %+v", u)
	}
}

func testUsageDistinctDAGs(t *testing.T, s tack.Store) {
	ctx := t.Context()
	a := MustCreateAccount(t, s, "jon@example.com")
	b := MustCreateAccount(t, s, "kai@example.com")

	// a pins one DAG three times and another once; a fifth request is
	// still pinning, with progress that must not count.
	big := NewPin(t, a.ID, "big-0")
	reqs := []*tack.PinRequest{big}
	for _, name := range []string{"big-1", "big-2"} {
		r := NewPin(t, a.ID, name)
		r.Pin.CID, r.Key = big.Pin.CID, big.Key
		reqs = append(reqs, r)
	}
	small := NewPin(t, a.ID, "small")
	fetching := NewPin(t, a.ID, "fetching")
	for _, r := range append(reqs, small, fetching) {
		MustCreatePin(t, s, r)
	}
	if got := MustClaim(t, s, "w1", 10, hour()); len(got) != 5 {
		t.Fatalf("ClaimPins = %d requests, want 5", len(got))
	}
	for _, d := range []tack.DAG{{Key: big.Key, Blocks: 10, Bytes: 1000}, {Key: small.Key, Blocks: 1, Bytes: 50}} {
		if err := s.CompleteDAG(ctx, &d); err != nil {
			t.Fatalf("CompleteDAG: %v", err)
		}
	}
	MustRenew(t, s, "w1", []string{fetching.ID}, 7, 777)
	checkUsage(t, "a", MustFindUsage(t, s, a.ID), map[tack.Status]int{tack.StatusPinned: 4, tack.StatusPinning: 1}, 1050)

	// b's request for the DAG a holds is pinned at once and counts for b
	// too; a's usage does not change.
	r := NewPin(t, b.ID, "shared")
	r.Pin.CID, r.Key = big.Pin.CID, big.Key
	MustCreatePin(t, s, r)
	checkUsage(t, "b", MustFindUsage(t, s, b.ID), map[tack.Status]int{tack.StatusPinned: 1}, 1000)
	checkUsage(t, "a after b pinned the same DAG", MustFindUsage(t, s, a.ID), map[tack.Status]int{tack.StatusPinned: 4, tack.StatusPinning: 1}, 1050)

	// The DAG counts while any of a's requests pins it.
	for i, r := range reqs {
		if err := s.DeletePin(ctx, a.ID, r.ID); err != nil {
			t.Fatalf("DeletePin: %v", err)
		}
		bytes := int64(1050)
		if i == len(reqs)-1 {
			bytes = 50
		}
		checkUsage(t, "a after deleting a request", MustFindUsage(t, s, a.ID), map[tack.Status]int{tack.StatusPinned: 3 - i, tack.StatusPinning: 1}, bytes)
	}
	all, err := s.FindUsages(ctx)
	if err != nil {
		t.Fatalf("FindUsages: %v", err)
	}
	checkUsage(t, "FindUsages[a]", all[a.ID], map[tack.Status]int{tack.StatusPinned: 1, tack.StatusPinning: 1}, 50)
	checkUsage(t, "FindUsages[b]", all[b.ID], map[tack.Status]int{tack.StatusPinned: 1}, 1000)
}
