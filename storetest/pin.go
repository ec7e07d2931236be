package storetest

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tack-ipfs/tack"
)

// checkPin fails the test unless got and want are the same request. Nil
// and empty Origins or Meta are equal.
func checkPin(tb testing.TB, what string, got, want *tack.PinRequest) {
	tb.Helper()
	same := got.ID == want.ID &&
		got.AccountID == want.AccountID &&
		got.Pin.CID == want.Pin.CID &&
		got.Pin.Name == want.Pin.Name &&
		slices.Equal(got.Pin.Origins, want.Pin.Origins) &&
		maps.Equal(got.Pin.Meta, want.Pin.Meta) &&
		got.Key == want.Key &&
		got.Status == want.Status &&
		got.Created.Equal(want.Created) &&
		got.Details == want.Details &&
		got.Blocks == want.Blocks &&
		got.Bytes == want.Bytes
	if !same {
		tb.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func testCreatePin(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "sam@example.com")
	r := NewPin(t, a.ID, "photos")
	r.Pin.Origins = []string{"/ip4/203.0.113.7/tcp/4001/p2p/12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf"}
	r.Pin.Meta = map[string]string{"app_id": "99986338-1113-4706-8302-4420da6158aa", "ünï": "cödé"}
	start := time.Now()
	MustCreatePin(t, s, r)
	if r.ID == "" {
		t.Fatalf("ID not set")
	}
	if got, want := r.Status, tack.StatusQueued; got != want {
		t.Errorf("Status = %q, want %q", got, want)
	}
	checkTime(t, "Created", r.Created, start, time.Now())
	checkPin(t, "FindPinByID", MustFindPin(t, s, a.ID, r.ID), r)

	// Without origins or meta.
	plain := MustCreatePin(t, s, NewPin(t, a.ID, ""))
	got := MustFindPin(t, s, a.ID, plain.ID)
	checkPin(t, "FindPinByID(no name, origins or meta)", got, plain)

	_, err := s.FindPinByID(t.Context(), a.ID, "no-such-request")
	checkCode(t, "FindPinByID(unknown)", err, tack.ENOTFOUND)
}

func testCreatePinUnknownAccount(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "tara@example.com")
	err := s.CreatePin(t.Context(), NewPin(t, a.ID+1000, "orphan"))
	checkCode(t, "CreatePin(unknown account)", err, tack.ENOTFOUND)
}

func testSameCIDTwice(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "uma@example.com")
	r1 := MustCreatePin(t, s, NewPin(t, a.ID, "one"))
	r2 := NewPin(t, a.ID, "two")
	r2.Pin.CID, r2.Key = r1.Pin.CID, r1.Key
	MustCreatePin(t, s, r2)
	if r1.ID == r2.ID {
		t.Errorf("two requests for one CID have the same ID %s", r1.ID)
	}
	pins, n := MustFindPins(t, s, tack.PinFilter{AccountID: a.ID, Keys: []string{r1.Key}, Limit: 10})
	if n != 2 || len(pins) != 2 {
		t.Errorf("FindPins(key) = %d results, count %d, want 2 and 2", len(pins), n)
	}
}

func testCreatedIncreasing(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "vic@example.com")
	b := MustCreateAccount(t, s, "wes@example.com")
	var last time.Time
	for i := range 30 {
		r := MustCreatePin(t, s, NewPin(t, a.ID, fmt.Sprint(i)))
		MustCreatePin(t, s, NewPin(t, b.ID, fmt.Sprint(i))) // another account in between
		if !r.Created.After(last) {
			t.Errorf("pin %d: Created %v not after the previous %v", i, r.Created, last)
		}
		last = r.Created
	}
}

func testCreatedConcurrent(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "xena@example.com")
	const n = 50
	pins := make([]*tack.PinRequest, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		pins[i] = NewPin(t, a.ID, fmt.Sprint(i))
		wg.Go(func() { errs[i] = s.CreatePin(t.Context(), pins[i]) })
	}
	wg.Wait()
	seenCreated := map[time.Time]string{}
	seenID := map[string]bool{}
	for i, r := range pins {
		if errs[i] != nil {
			t.Fatalf("CreatePin %d: %v", i, errs[i])
		}
		if other, ok := seenCreated[r.Created]; ok {
			t.Errorf("requests %s and %s share Created %v", other, r.ID, r.Created)
		}
		seenCreated[r.Created] = r.ID
		if seenID[r.ID] {
			t.Errorf("ID %s given twice", r.ID)
		}
		seenID[r.ID] = true
	}
	// What was returned is what was stored.
	got, count := MustFindPins(t, s, tack.PinFilter{AccountID: a.ID, Statuses: allStatuses, Limit: 100})
	if count != n || len(got) != n {
		t.Fatalf("FindPins = %d results, count %d, want %d", len(got), count, n)
	}
	for _, r := range got {
		if seenCreated[r.Created] != r.ID {
			t.Errorf("stored request %s has Created %v, CreatePin said request %q has it", r.ID, r.Created, seenCreated[r.Created])
		}
	}
}

func testCreatedAfterDelete(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "yuri@example.com")
	r1 := MustCreatePin(t, s, NewPin(t, a.ID, "first"))
	if err := s.DeletePin(t.Context(), a.ID, r1.ID); err != nil {
		t.Fatalf("DeletePin: %v", err)
	}
	r2 := MustCreatePin(t, s, NewPin(t, a.ID, "second"))
	if !r2.Created.After(r1.Created) {
		t.Errorf("Created %v of a request made after deleting one created at %v: want later", r2.Created, r1.Created)
	}
}

func testDeletePin(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "zoe@example.com")
	r := NewPin(t, a.ID, "doomed")
	r.Pin.Meta = map[string]string{"k": "v"}
	MustCreatePin(t, s, r)
	keep := MustCreatePin(t, s, NewPin(t, a.ID, "kept"))
	if err := s.DeletePin(t.Context(), a.ID, r.ID); err != nil {
		t.Fatalf("DeletePin: %v", err)
	}
	_, err := s.FindPinByID(t.Context(), a.ID, r.ID)
	checkCode(t, "FindPinByID(deleted)", err, tack.ENOTFOUND)
	err = s.DeletePin(t.Context(), a.ID, r.ID)
	checkCode(t, "DeletePin(deleted)", err, tack.ENOTFOUND)
	err = s.DeletePin(t.Context(), a.ID, "no-such-request")
	checkCode(t, "DeletePin(unknown)", err, tack.ENOTFOUND)

	pins, n := MustFindPins(t, s, tack.PinFilter{AccountID: a.ID, Statuses: allStatuses, Limit: 10})
	if n != 1 || len(pins) != 1 || pins[0].ID != keep.ID {
		t.Errorf("after delete FindPins = %v (count %d), want only %s", ids(pins), n, keep.ID)
	}
	pins, n = MustFindPins(t, s, tack.PinFilter{AccountID: a.ID, Meta: map[string]string{"k": "v"}, Limit: 10})
	if n != 0 || len(pins) != 0 {
		t.Errorf("the deleted request's meta still matches: %v (count %d)", ids(pins), n)
	}
}

func testReplacePin(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "adam@example.com")
	old := NewPin(t, a.ID, "v1")
	old.Pin.Meta = map[string]string{"version": "1"}
	MustCreatePin(t, s, old)

	r := NewPin(t, a.ID, "v2")
	r.Pin.Meta = map[string]string{"version": "2"}
	start := time.Now()
	if err := s.ReplacePin(t.Context(), a.ID, old.ID, r); err != nil {
		t.Fatalf("ReplacePin: %v", err)
	}
	if r.ID == "" || r.ID == old.ID {
		t.Errorf("replacement ID = %q, want a new one (old %q)", r.ID, old.ID)
	}
	checkTime(t, "Created", r.Created, start, time.Now())
	if !r.Created.After(old.Created) {
		t.Errorf("replacement Created %v not after the old %v", r.Created, old.Created)
	}
	_, err := s.FindPinByID(t.Context(), a.ID, old.ID)
	checkCode(t, "FindPinByID(replaced)", err, tack.ENOTFOUND)
	checkPin(t, "FindPinByID(replacement)", MustFindPin(t, s, a.ID, r.ID), r)

	pins, n := MustFindPins(t, s, tack.PinFilter{AccountID: a.ID, Statuses: allStatuses, Limit: 10})
	if n != 1 || len(pins) != 1 || pins[0].ID != r.ID {
		t.Errorf("after replace FindPins = %v (count %d), want only %s", ids(pins), n, r.ID)
	}
	_, n = MustFindPins(t, s, tack.PinFilter{AccountID: a.ID, Meta: map[string]string{"version": "1"}, Limit: 10})
	if n != 0 {
		t.Errorf("the replaced request's meta still matches %d requests", n)
	}

	// Replacing with the same CID is allowed and still gives a new ID.
	same := NewPin(t, a.ID, "v2 again")
	same.Pin.CID, same.Key = r.Pin.CID, r.Key
	if err := s.ReplacePin(t.Context(), a.ID, r.ID, same); err != nil {
		t.Fatalf("ReplacePin(same CID): %v", err)
	}
	if same.ID == r.ID {
		t.Errorf("replacing with the same CID kept ID %s", r.ID)
	}
}

func testReplacePinUnknown(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "beth@example.com")
	b := MustCreateAccount(t, s, "carl@example.com")
	theirs := MustCreatePin(t, s, NewPin(t, b.ID, "theirs"))
	mine := MustCreatePin(t, s, NewPin(t, a.ID, "mine"))

	for _, oldID := range []string{"no-such-request", theirs.ID} {
		err := s.ReplacePin(t.Context(), a.ID, oldID, NewPin(t, a.ID, "new"))
		checkCode(t, "ReplacePin("+oldID+")", err, tack.ENOTFOUND)
	}
	pins, n := MustFindPins(t, s, tack.PinFilter{AccountID: a.ID, Statuses: allStatuses, Limit: 10})
	if n != 1 || len(pins) != 1 || pins[0].ID != mine.ID {
		t.Errorf("after failed replaces a has %v (count %d), want only %s", ids(pins), n, mine.ID)
	}
	checkPin(t, "other account's request", MustFindPin(t, s, b.ID, theirs.ID), theirs)
}

// testReplacePinAtomic replaces a request again and again while readers
// list the account: every listing must see exactly one request.
func testReplacePinAtomic(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "dora@example.com")
	cur := MustCreatePin(t, s, NewPin(t, a.ID, "gen-0"))

	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				pins, n, err := s.FindPins(t.Context(), tack.PinFilter{AccountID: a.ID, Statuses: allStatuses, Limit: 10})
				if err != nil {
					t.Errorf("FindPins: %v", err)
					return
				}
				if n != 1 || len(pins) != 1 {
					t.Errorf("during replaces FindPins = %v (count %d), want exactly one request", ids(pins), n)
					return
				}
			}
		})
	}
	for i := 1; i <= 20; i++ {
		r := NewPin(t, a.ID, fmt.Sprintf("gen-%d", i))
		if err := s.ReplacePin(t.Context(), a.ID, cur.ID, r); err != nil {
			t.Errorf("ReplacePin %d: %v", i, err)
			break
		}
		cur = r
	}
	close(done)
	wg.Wait()
}

func testAccountsIsolated(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "eve@example.com")
	b := MustCreateAccount(t, s, "finn@example.com")
	ra := MustCreatePins(t, s, a.ID, "shared-name", 3)
	MustCreatePins(t, s, b.ID, "shared-name", 2)

	pins, n := MustFindPins(t, s, tack.PinFilter{AccountID: b.ID, Statuses: allStatuses, Limit: 100})
	if n != 2 || len(pins) != 2 {
		t.Errorf("b sees %d requests (count %d), want its own 2", len(pins), n)
	}
	for _, r := range pins {
		if r.AccountID != b.ID {
			t.Errorf("b sees request %s of account %d", r.ID, r.AccountID)
		}
	}
	name := "shared-name-0"
	_, n = MustFindPins(t, s, tack.PinFilter{AccountID: b.ID, Name: &name, Match: tack.MatchExact, Limit: 10})
	if n != 1 {
		t.Errorf("b's name filter counts %d requests, want 1", n)
	}
	_, n = MustFindPins(t, s, tack.PinFilter{AccountID: b.ID, Keys: []string{ra[0].Key}, Limit: 10})
	if n != 0 {
		t.Errorf("b's cid filter finds a's request")
	}

	_, err := s.FindPinByID(t.Context(), b.ID, ra[0].ID)
	checkCode(t, "FindPinByID(another account's)", err, tack.ENOTFOUND)
	err = s.DeletePin(t.Context(), b.ID, ra[0].ID)
	checkCode(t, "DeletePin(another account's)", err, tack.ENOTFOUND)
	err = s.ReplacePin(t.Context(), b.ID, ra[1].ID, NewPin(t, b.ID, "takeover"))
	checkCode(t, "ReplacePin(another account's)", err, tack.ENOTFOUND)
	for _, r := range ra {
		checkPin(t, "a's request after b's attempts", MustFindPin(t, s, a.ID, r.ID), r)
	}
}

// statusMix creates requests of the account in every status: 3 queued,
// 2 pinning, 2 pinned and 1 failed, and returns their IDs by status. It
// claims every queued request in the store, so call it before creating
// other queued requests.
func statusMix(tb testing.TB, s tack.Store, accountID int64) map[tack.Status][]string {
	tb.Helper()
	ctx := tb.Context()
	owner := fmt.Sprintf("mix-%d", accountID)
	MustCreatePins(tb, s, accountID, "mix", 8)
	claimed, err := s.ClaimPins(ctx, owner, 8, time.Now().Add(time.Hour))
	if err != nil || len(claimed) != 8 {
		tb.Fatalf("ClaimPins = %d requests, %v; want 8", len(claimed), err)
	}
	// claimed[0:3] back to queued, [3:5] stay pinning, [5:7] pinned, [7] failed.
	if err := s.ReleasePins(ctx, owner, ids(claimed[0:3])); err != nil {
		tb.Fatalf("ReleasePins: %v", err)
	}
	for _, r := range claimed[5:7] {
		if err := s.CompleteDAG(ctx, &tack.DAG{Key: r.Key, Blocks: 1, Bytes: 100}); err != nil {
			tb.Fatalf("CompleteDAG: %v", err)
		}
	}
	if err := s.FailPins(ctx, owner, ids(claimed[7:8]), "no providers"); err != nil {
		tb.Fatalf("FailPins: %v", err)
	}
	return map[tack.Status][]string{
		tack.StatusQueued:  ids(claimed[0:3]),
		tack.StatusPinning: ids(claimed[3:5]),
		tack.StatusPinned:  ids(claimed[5:7]),
		tack.StatusFailed:  ids(claimed[7:8]),
	}
}
