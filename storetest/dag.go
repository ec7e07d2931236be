package storetest

import (
	"slices"
	"testing"

	"github.com/tack-ipfs/tack"
)

// withKey creates a request of the account for the content key.
func withKey(tb testing.TB, s tack.Store, accountID int64, name, c, key string) *tack.PinRequest {
	tb.Helper()
	r := NewPin(tb, accountID, name)
	r.Pin.CID, r.Key = c, key
	return MustCreatePin(tb, s, r)
}

func mustComplete(tb testing.TB, s tack.Store, key string, blocks, bytes int64) {
	tb.Helper()
	if err := s.CompleteDAG(tb.Context(), &tack.DAG{Key: key, Blocks: blocks, Bytes: bytes}); err != nil {
		tb.Fatalf("CompleteDAG: %v", err)
	}
}

// allDAGs pages through ListDAGs two at a time.
func allDAGs(tb testing.TB, s tack.Store) []string {
	tb.Helper()
	var keys []string
	after := ""
	for {
		page, err := s.ListDAGs(tb.Context(), after, 2)
		if err != nil {
			tb.Fatalf("ListDAGs: %v", err)
		}
		if len(page) > 2 {
			tb.Fatalf("ListDAGs(limit 2) returned %d", len(page))
		}
		if len(page) == 0 {
			return keys
		}
		for _, d := range page {
			keys = append(keys, d.Key)
		}
		after = page[len(page)-1].Key
	}
}

// allWanted pages through WantedKeys two at a time.
func allWanted(tb testing.TB, s tack.Store) []string {
	tb.Helper()
	var keys []string
	after := ""
	for {
		page, err := s.WantedKeys(tb.Context(), after, 2)
		if err != nil {
			tb.Fatalf("WantedKeys: %v", err)
		}
		if len(page) > 2 {
			tb.Fatalf("WantedKeys(limit 2) returned %d", len(page))
		}
		if len(page) == 0 {
			return keys
		}
		keys = append(keys, page...)
		after = page[len(page)-1]
	}
}

func testListDAGs(t *testing.T, s tack.Store) {
	var want []string
	for range 5 {
		_, key := NewCID(t)
		mustComplete(t, s, key, 1, 10)
		want = append(want, key)
	}
	slices.Sort(want)
	if got := allDAGs(t, s); !slices.Equal(got, want) {
		t.Errorf("ListDAGs = %v, want %v", got, want)
	}
	page, err := s.ListDAGs(t.Context(), want[1], 1)
	if err != nil || len(page) != 1 || *page[0] != (tack.DAG{Key: want[2], Blocks: 1, Bytes: 10}) {
		t.Errorf("ListDAGs(after %s, 1) = %v, %v; want %s with its size", want[1], page, err, want[2])
	}
}

func testForgetDAGs(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "gc@example.com")
	type dag struct{ cid, key string }
	newDAG := func() dag {
		c, key := NewCID(t)
		return dag{c, key}
	}
	pinned, deleted, failedOnly, never, requeued := newDAG(), newDAG(), newDAG(), newDAG(), newDAG()

	withKey(t, s, a.ID, "pinned", pinned.cid, pinned.key)
	mustComplete(t, s, pinned.key, 1, 1)

	gone := withKey(t, s, a.ID, "deleted", deleted.cid, deleted.key)
	mustComplete(t, s, deleted.key, 1, 1)
	if err := s.DeletePin(t.Context(), a.ID, gone.ID); err != nil {
		t.Fatalf("DeletePin: %v", err)
	}

	f := withKey(t, s, a.ID, "failed", failedOnly.cid, failedOnly.key)
	MustClaim(t, s, "w1", 10, hour())
	if err := s.FailPins(t.Context(), "w1", []string{f.ID}, "gave up"); err != nil {
		t.Fatalf("FailPins: %v", err)
	}
	mustComplete(t, s, failedOnly.key, 1, 1) // another fetch completed it, for nobody

	mustComplete(t, s, never.key, 1, 1)

	withKey(t, s, a.ID, "requeued", requeued.cid, requeued.key)
	mustComplete(t, s, requeued.key, 1, 1)

	n, err := s.ForgetDAGs(t.Context())
	if err != nil {
		t.Fatalf("ForgetDAGs: %v", err)
	}
	if n != 3 {
		t.Errorf("ForgetDAGs = %d, want 3 (deleted, failed-only, never requested)", n)
	}
	want := []string{pinned.key, requeued.key}
	slices.Sort(want)
	if got := allDAGs(t, s); !slices.Equal(got, want) {
		t.Errorf("after ForgetDAGs, ListDAGs = %v, want %v", got, want)
	}
	if n, err := s.ForgetDAGs(t.Context()); err != nil || n != 0 {
		t.Errorf("ForgetDAGs again = %d, %v; want 0", n, err)
	}

	// A forgotten DAG is fetched again, not pinned at once.
	r := withKey(t, s, a.ID, "again", deleted.cid, deleted.key)
	if r.Status != tack.StatusQueued {
		t.Errorf("request for a forgotten DAG: Status %q, want queued", r.Status)
	}
}

func testWantedKeys(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "want@example.com")
	b := MustCreateAccount(t, s, "need@example.com")
	newKey := func() (string, string) { return NewCID(t) }

	if got := allWanted(t, s); len(got) != 0 {
		t.Errorf("WantedKeys of an empty store = %v", got)
	}
	qc, queued := newKey()
	withKey(t, s, a.ID, "queued", qc, queued)
	withKey(t, s, b.ID, "queued too", qc, queued) // listed once
	pc, pinning := newKey()
	withKey(t, s, b.ID, "pinning", pc, pinning)
	MustClaim(t, s, "w1", 10, hour())
	dc, done := newKey()
	withKey(t, s, a.ID, "pinned", dc, done)
	mustComplete(t, s, done, 1, 1)

	// Replacing a pinned request keeps the old DAG wanted until the new
	// one is settled.
	oc, old := newKey()
	prev := withKey(t, s, a.ID, "old", oc, old)
	mustComplete(t, s, old, 1, 1)
	nc, next := newKey()
	r := NewPin(t, a.ID, "new")
	r.Pin.CID, r.Key = nc, next
	if err := s.ReplacePin(t.Context(), a.ID, prev.ID, r); err != nil {
		t.Fatalf("ReplacePin: %v", err)
	}
	want := []string{queued, pinning, old, next}
	slices.Sort(want)
	if got := allWanted(t, s); !slices.Equal(got, want) {
		t.Errorf("WantedKeys = %v, want %v (queued, pinning, the replacement and the DAG it replaced)", got, want)
	}
	mustComplete(t, s, next, 1, 1)
	want = []string{queued, pinning}
	slices.Sort(want)
	if got := allWanted(t, s); !slices.Equal(got, want) {
		t.Errorf("after the replacement is pinned, WantedKeys = %v, want %v", got, want)
	}
}

func testRequeueDAG(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "verify@example.com")
	b := MustCreateAccount(t, s, "other@example.com")
	c, key := NewCID(t)
	ra := withKey(t, s, a.ID, "a", c, key)
	rb := withKey(t, s, b.ID, "b", c, key)
	mustComplete(t, s, key, 4, 400)
	other := withKey(t, s, a.ID, "queued", c+"x", key+"x")

	n, err := s.RequeueDAG(t.Context(), key, "re-fetching: block X went missing")
	if err != nil || n != 2 {
		t.Fatalf("RequeueDAG = %d, %v; want 2", n, err)
	}
	if _, err := s.FindDAG(t.Context(), key); tack.ErrorCode(err) != tack.ENOTFOUND {
		t.Errorf("FindDAG after RequeueDAG: %v, want ENOTFOUND", err)
	}
	for _, r := range []*tack.PinRequest{ra, rb} {
		got := checkStatus(t, s, r.AccountID, r.ID, tack.StatusQueued)
		if got.Blocks != 0 || got.Bytes != 0 || got.Details != "re-fetching: block X went missing" {
			t.Errorf("requeued request: Blocks %d, Bytes %d, Details %q", got.Blocks, got.Bytes, got.Details)
		}
	}
	// Behind the account's own waiting request.
	claimed := MustClaim(t, s, "w1", 1, hour())
	if len(claimed) != 1 || claimed[0].ID == ra.ID {
		t.Errorf("first claim = %v, want %s or b's request before a's requeued one", ids(claimed), other.ID)
	}
	rest := MustClaim(t, s, "w1", 10, hour())
	if got := sorted(append(ids(claimed), ids(rest)...)...); !slices.Equal(got, sorted(ra.ID, rb.ID, other.ID)) {
		t.Errorf("claims = %v, want the three queued requests", got)
	}
	mustComplete(t, s, key, 4, 400)
	checkStatus(t, s, a.ID, ra.ID, tack.StatusPinned)
	if n, err := s.RequeueDAG(t.Context(), "no-such-key", "x"); err != nil || n != 0 {
		t.Errorf("RequeueDAG(unknown) = %d, %v; want 0, nil", n, err)
	}
}
