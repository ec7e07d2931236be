package storetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tack-ipfs/tack"
)

// RunTwoHandles runs the tests of two handles on one store written at
// once, as two tack processes on one database do (two nodes, or tack
// serve and tack account create). open must return two handles on one
// new, empty store, and close them when the subtest ends. check, if not
// nil, is called with the first handle at the end of each test, for what
// only the store itself can check (its counters against its rows, say).
func RunTwoHandles(t *testing.T, open func(t *testing.T) (tack.Store, tack.Store), check func(t *testing.T, s tack.Store)) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s1, s2 tack.Store)
	}{
		{"CreateAndClaim", testTwoHandlesCreateAndClaim},
		{"CompleteRacesCreate", testTwoHandlesCompleteRacesCreate},
		{"PendingLimit", testTwoHandlesPendingLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s1, s2 := open(t)
			tt.fn(t, s1, s2)
			if check != nil {
				check(t, s1)
			}
		})
	}
}

// testTwoHandlesCreateAndClaim creates requests through both handles at
// once, and accounts through the other: every write succeeds, created
// times stay unique per account; then claims through both handles take
// every request, none twice.
func testTwoHandlesCreateAndClaim(t *testing.T, s1, s2 tack.Store) {
	handles := []tack.Store{s1, s2}
	a := MustCreateAccount(t, s1, "shared@example.com")
	const perHandle = 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	created := map[time.Time]bool{}
	for i := range 2 * perHandle {
		wg.Go(func() {
			r := NewPin(t, a.ID, fmt.Sprint(i))
			if err := handles[i%2].CreatePin(t.Context(), r); err != nil {
				t.Errorf("CreatePin through handle %d: %v", i%2+1, err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if created[r.Created] {
				t.Errorf("two requests created at %v", r.Created)
			}
			created[r.Created] = true
		})
		// Accounts too, through the other handle.
		wg.Go(func() {
			if err := handles[(i+1)%2].CreateAccount(t.Context(), &tack.Account{Email: fmt.Sprintf("u%d@example.com", i)}); err != nil {
				t.Errorf("CreateAccount: %v", err)
			}
		})
	}
	wg.Wait()

	var claimed sync.Map
	var total atomic.Int64
	for h := range 4 {
		wg.Go(func() {
			for {
				got, err := handles[h%2].ClaimPins(t.Context(), fmt.Sprintf("claimer-%d", h), 3, time.Now().Add(time.Hour))
				if err != nil {
					t.Errorf("ClaimPins: %v", err)
					return
				}
				if len(got) == 0 {
					return
				}
				for _, r := range got {
					if _, dup := claimed.LoadOrStore(r.ID, h); dup {
						t.Errorf("request %s claimed twice", r.ID)
					}
				}
				total.Add(int64(len(got)))
			}
		})
	}
	wg.Wait()
	if total.Load() != 2*perHandle {
		t.Errorf("claimed %d, want %d", total.Load(), 2*perHandle)
	}
	if n, err := s2.CountAccounts(t.Context()); err != nil || n != 1+2*perHandle {
		t.Errorf("CountAccounts = %d, %v; want %d", n, err, 1+2*perHandle)
	}
}

// testTwoHandlesCompleteRacesCreate creates requests for a DAG through
// both handles while one of them records it whole: no request may stay
// queued for a DAG that is held.
func testTwoHandlesCompleteRacesCreate(t *testing.T, s1, s2 tack.Store) {
	handles := []tack.Store{s1, s2}
	a := MustCreateAccount(t, s1, "a@example.com")
	b := MustCreateAccount(t, s1, "b@example.com")
	for range 20 {
		c, key := NewCID(t)
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Go(func() {
				r := &tack.PinRequest{AccountID: []int64{a.ID, b.ID}[i%2], Pin: tack.Pin{CID: c}, Key: key}
				if err := handles[i%2].CreatePin(t.Context(), r); err != nil {
					t.Errorf("CreatePin: %v", err)
				}
			})
		}
		wg.Go(func() {
			if err := s2.CompleteDAG(t.Context(), &tack.DAG{Key: key, Blocks: 1, Bytes: 10}); err != nil {
				t.Errorf("CompleteDAG: %v", err)
			}
		})
		wg.Wait()
		for _, acct := range []int64{a.ID, b.ID} {
			pins, _ := MustFindPins(t, s1, tack.PinFilter{AccountID: acct, Keys: []string{key}, Limit: 100})
			for _, p := range pins {
				if p.Status != tack.StatusPinned {
					t.Errorf("request %s for a held DAG is %s", p.ID, p.Status)
				}
			}
		}
	}
}

// testTwoHandlesPendingLimit posts over an account's pending limit
// through both handles at once: exactly the limit is accepted.
func testTwoHandlesPendingLimit(t *testing.T, s1, s2 tack.Store) {
	handles := []tack.Store{s1, s2}
	a := MustCreateAccount(t, s1, "a@example.com")
	limit := int64(7)
	if err := s1.SetAccountLimits(t.Context(), a.ID, &limit, nil); err != nil {
		t.Fatal(err)
	}
	var ok, quota atomic.Int64
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			err := handles[i%2].CreatePin(t.Context(), NewPin(t, a.ID, fmt.Sprint(i)))
			switch tack.ErrorCode(err) {
			case "":
				ok.Add(1)
			case tack.EQUOTA:
				quota.Add(1)
			default:
				t.Errorf("CreatePin: %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != limit || quota.Load() != 30-limit {
		t.Errorf("accepted %d, refused %d; want %d and %d", ok.Load(), quota.Load(), limit, 30-limit)
	}
}
