package storetest

import (
	"testing"

	"github.com/tack-ipfs/tack"
)

// checkError fails the test unless err is want: the same code and the
// same message.
func checkError(tb testing.TB, what string, err, want error) {
	tb.Helper()
	if tack.ErrorCode(err) != tack.ErrorCode(want) || tack.ErrorMessage(err) != tack.ErrorMessage(want) {
		tb.Errorf("%s: %v, want %v", what, err, want)
	}
}

// testAdmission: CreatePin admits a new request by the rules of the root
// package's admission.go, in their order, with their errors.
func testAdmission(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "ann@example.com")
	b := MustCreateAccount(t, s, "bob@example.com")
	MustSetLimits(t, s, a.ID, ptr(1), ptr(1000))

	// 1. The request's fields come first, even for an unknown account.
	bad := NewPin(t, 1<<40, "pinned")
	bad.Status = tack.StatusPinned
	checkError(t, "a new request not queued", s.CreatePin(t.Context(), bad), tack.CheckNewPin(&tack.PinRequest{Status: tack.StatusPinned}))
	noKey := NewPin(t, 1<<40, "no key")
	noKey.Key = ""
	checkError(t, "a new request without a key", s.CreatePin(t.Context(), noKey), tack.CheckNewPin(&tack.PinRequest{}))
	// 2. Then the account.
	checkError(t, "an unknown account", s.CreatePin(t.Context(), NewPin(t, 1<<40, "orphan")), tack.ErrAccountNotFound())

	// 4. A queued request takes the account's next turn, up to MaxPending.
	first := MustCreatePin(t, s, NewPin(t, a.ID, "first"))
	if first.Status != tack.StatusQueued || first.Turn != tack.NextTurn(0, 0) {
		t.Errorf("first request: %s, turn %d; want queued, turn %d", first.Status, first.Turn, tack.NextTurn(0, 0))
	}
	checkError(t, "a queued request over MaxPending", s.CreatePin(t.Context(), NewPin(t, a.ID, "over")), tack.ErrOverPending(1))

	// 3. A DAG held whole is pinned at once: MaxPending does not apply.
	held := MustCreatePin(t, s, NewPin(t, b.ID, "held"))
	mustComplete(t, s, held.Key, 3, 600)
	r := MustCreatePin(t, s, &tack.PinRequest{AccountID: a.ID, Pin: held.Pin, Key: held.Key})
	if r.Status != tack.StatusPinned || r.Blocks != 3 || r.Bytes != 600 {
		t.Errorf("a held DAG at MaxPending: %s, %d blocks, %d bytes; want pinned, 3, 600", r.Status, r.Blocks, r.Bytes)
	}
	// MaxBytes does: the storage rule comes before the pending one.
	big := MustCreatePin(t, s, NewPin(t, b.ID, "big"))
	mustComplete(t, s, big.Key, 1, 500)
	checkError(t, "a held DAG over MaxBytes", s.CreatePin(t.Context(), &tack.PinRequest{AccountID: a.ID, Pin: big.Pin, Key: big.Key}),
		tack.ErrOverStorage(500, 600, 1000))
	// A DAG the account holds already costs nothing more.
	if r := MustCreatePin(t, s, &tack.PinRequest{AccountID: a.ID, Pin: held.Pin, Key: held.Key}); r.Status != tack.StatusPinned {
		t.Errorf("a DAG the account holds, again: %s, want pinned", r.Status)
	}

	// Turns never start before the queue's virtual time, the last turn
	// claimed.
	claimed := MustClaim(t, s, "w1", 1, hour())
	if len(claimed) != 1 || claimed[0].ID != first.ID {
		t.Fatalf("claimed %v, want %s", ids(claimed), first.ID)
	}
	vtime := claimed[0].Turn
	c := MustCreateAccount(t, s, "cid@example.com")
	if r := MustCreatePin(t, s, NewPin(t, c.ID, "new")); r.Turn != tack.NextTurn(0, vtime) {
		t.Errorf("a new account's first turn %d, want %d", r.Turn, tack.NextTurn(0, vtime))
	}
	if err := s.FailPins(t.Context(), "w1", []string{first.ID}, "gone"); err != nil {
		t.Fatal(err)
	}
	if r := MustCreatePin(t, s, NewPin(t, a.ID, "next")); r.Turn != tack.NextTurn(first.Turn, vtime) {
		t.Errorf("the account's next turn %d, want %d", r.Turn, tack.NextTurn(first.Turn, vtime))
	}
}
