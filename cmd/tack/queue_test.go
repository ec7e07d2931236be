package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	pinclient "github.com/ipfs/boxo/pinning/remote/client"
	"github.com/ipfs/go-cid"
	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/internal/testpeer"
)

// MustApprovedClient creates an account with approved pinning access and
// returns a client with a token of it.
func (m *Main) MustApprovedClient(tb testing.TB, email string) *pinclient.Client {
	tb.Helper()
	a := &tack.Account{Email: email, Access: tack.AccessApproved}
	if err := m.DB.CreateAccount(context.Background(), a); err != nil {
		tb.Fatal(err)
	}
	token, _, err := m.Auth.Issue(context.Background(), a.ID, "test")
	if err != nil {
		tb.Fatal(err)
	}
	return m.Client(token)
}

// addSmallDAGs adds n single-block DAGs of size bytes to the peer.
func addSmallDAGs(tb testing.TB, peer *testpeer.Peer, n, size int) []cid.Cid {
	tb.Helper()
	roots := make([]cid.Cid, n)
	for i := range roots {
		roots[i] = peer.AddFile(tb, size, size, 1)
	}
	return roots
}

// addAll posts a pin of each root, with opts, from workers goroutines at
// once, each taking the next root, and fails tb if any post failed.
func addAll(tb testing.TB, c *pinclient.Client, roots []cid.Cid, workers int, opts ...pinclient.AddOption) {
	tb.Helper()
	work := make(chan cid.Cid)
	errs := make(chan error, len(roots))
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for root := range work {
				if _, err := c.Add(context.Background(), root, opts...); err != nil {
					errs <- fmt.Errorf("pin %s: %w", root, err)
				}
			}
		})
	}
	for _, root := range roots {
		work <- root
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
}

// postAll posts a pin of each root, named name-i, with opts, and returns
// the requestids in the same order.
func postAll(tb testing.TB, c *pinclient.Client, name string, roots []cid.Cid, opts ...pinclient.AddOption) []string {
	tb.Helper()
	ids := make([]string, len(roots))
	for i, root := range roots {
		ps, err := c.Add(context.Background(), root, append(opts, pinclient.PinOpts.WithName(fmt.Sprintf("%s-%d", name, i)))...)
		if err != nil {
			tb.Fatalf("pin %s-%d: %v", name, i, err)
		}
		ids[i] = ps.GetRequestId()
	}
	return ids
}

// Content that nobody provides steps aside: with every fetch taken by
// unfindable CIDs posted first, the findable DAGs behind them are still all
// pinned, and the unfindable ones say they will be tried again, then fail
// with the reason once --pin-timeout has passed without progress.
func TestUnfindableStepsAside(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, tempData(t), func(c *Config) {
		c.Fetches = 4
		c.PinStall, c.PinRetry, c.PinTimeout = time.Second, 300*time.Millisecond, 5*time.Second
	})
	peer := testpeer.New(t)
	c := m.Client(m.AdminToken)
	origins := pinclient.PinOpts.WithOrigins(Origins(t, peer)...)

	var unfindable []cid.Cid
	for range 4 {
		unfindable = append(unfindable, testpeer.RandomRawCID(t))
	}
	lost := postAll(t, c, "unfindable", unfindable, origins)
	found := postAll(t, c, "findable", addSmallDAGs(t, peer, 20, 16<<10), origins)

	// Without stepping aside, the four unfindable requests would hold
	// every fetch until --pin-timeout and then fail; the findable ones
	// would wait behind them. Each findable one must be pinned while the
	// unfindable ones are still being tried.
	for _, id := range found {
		WaitStatus(t, c, id, pinclient.StatusPinned, time.Minute)
	}
	sawRetry := false
	for _, id := range lost {
		ps, err := c.GetStatusByID(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		d := ps.GetInfo()["status_details"]
		if ps.GetStatus() == pinclient.StatusFailed {
			t.Errorf("unfindable %s failed before the findable ones were pinned: %s", id, d)
		}
		if strings.Contains(d, "no provider found yet") && strings.Contains(d, "next try") {
			sawRetry = true
		}
	}
	if !sawRetry {
		// Not every request is always between attempts at this moment;
		// poll until one is.
		waitFor(t, 30*time.Second, "an unfindable request waiting to retry", func() bool {
			for _, id := range lost {
				ps, err := c.GetStatusByID(context.Background(), id)
				if err == nil && strings.Contains(ps.GetInfo()["status_details"], "next try") {
					return true
				}
			}
			return false
		})
	}
	for _, id := range lost {
		ps := WaitStatus(t, c, id, pinclient.StatusFailed, time.Minute)
		if d := ps.GetInfo()["status_details"]; !strings.Contains(d, "no progress for 5s over") || !strings.Contains(d, "attempts") {
			t.Errorf("unfindable %s failed with %q, want the timeout and the attempts", id, d)
		}
	}
}

// One account's backlog does not hold up another's new pins: turns
// alternate between accounts, so b's pins are claimed next, however many
// of a's requests were queued before them.
func TestFairAcrossAccounts(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, tempData(t), func(c *Config) { c.Fetches = 2 })
	peer := testpeer.New(t)
	origins := pinclient.PinOpts.WithOrigins(Origins(t, peer)...)
	a := m.MustApprovedClient(t, "backlog@example.com")
	b := m.MustApprovedClient(t, "newcomer@example.com")

	backlog := addSmallDAGs(t, peer, 150, 64<<10)
	// Posted 8 at a time, so that most of them are still queued when b
	// posts: the pinner works on them meanwhile.
	addAll(t, a, backlog, 8, origins)
	before := countStatus(t, m, "backlog@example.com", tack.StatusPinned)
	left := len(backlog) - before
	if left < 50 {
		t.Fatalf("%d of a's %d requests were pinned while they were posted: too few left to tell", before, len(backlog))
	}
	mine := postAll(t, b, "b", addSmallDAGs(t, peer, 5, 64<<10), origins)
	for _, id := range mine {
		WaitStatus(t, b, id, pinclient.StatusPinned, time.Minute)
	}
	// When b's last pin is done, most of what was left of a's backlog is
	// still waiting.
	n := countStatus(t, m, "backlog@example.com", tack.StatusPinned)
	if n-before > left/2 {
		t.Errorf("%d of a's %d requests left when b posted were pinned before b's 5: b waited behind a's backlog", n-before, left)
	}
	t.Logf("a had %d of %d pinned when b posted, %d when b's 5 were done", before, len(backlog), n)
}

// countStatus returns how many of the account's requests have status st.
func countStatus(tb testing.TB, m *Main, email string, st tack.Status) int {
	tb.Helper()
	acct, err := m.DB.FindAccountByEmail(context.Background(), email)
	if err != nil {
		tb.Fatal(err)
	}
	u, err := m.DB.FindUsage(context.Background(), acct.ID)
	if err != nil {
		tb.Fatal(err)
	}
	return u.Pins[st]
}

// The pending cap refuses a request with 409 INSUFFICIENT_FUNDS, which
// Kubo's client shows with the reason.
func TestPendingLimit(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, tempData(t), func(c *Config) { c.MaxPending = 3 })
	c := m.MustApprovedClient(t, "capped@example.com")
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 6 {
		wg.Go(func() {
			_, err := c.Add(context.Background(), testpeer.RandomRawCID(t))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	refused := 0
	for err := range errs {
		if err != nil {
			refused++
			if !strings.Contains(err.Error(), "INSUFFICIENT_FUNDS") || !strings.Contains(err.Error(), "3 pending requests") {
				t.Errorf("refused with %v, want INSUFFICIENT_FUNDS naming the limit", err)
			}
		}
	}
	if refused != 3 {
		t.Errorf("%d of 6 requests refused with a limit of 3 pending, want 3", refused)
	}
}

// A blocked account's queued requests are held: the pinner claims none of
// them, while other accounts' pins go on, and they are pinned once the
// account is unblocked.
func TestBlockedAccountHeld(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, tempData(t), func(c *Config) { c.Fetches = 2 })
	peer := testpeer.New(t)
	origins := pinclient.PinOpts.WithOrigins(Origins(t, peer)...)
	ctx := context.Background()
	other := m.MustApprovedClient(t, "other@example.com")
	blocked := &tack.Account{Email: "blocked@example.com", Access: tack.AccessApproved}
	if err := m.DB.CreateAccount(ctx, blocked); err != nil {
		t.Fatal(err)
	}
	if err := m.DB.SetAccountBlocked(ctx, blocked.ID, true); err != nil {
		t.Fatal(err)
	}
	// Its requests were queued before the block: stored directly, as the
	// API refuses a blocked account.
	var held []string
	for _, root := range addSmallDAGs(t, peer, 10, 16<<10) {
		r := &tack.PinRequest{AccountID: blocked.ID, Pin: tack.Pin{CID: root.String(), Origins: peer.Addrs()}, Key: tack.ContentKey(root)}
		if err := m.DB.CreatePin(ctx, r); err != nil {
			t.Fatal(err)
		}
		held = append(held, r.ID)
	}
	m.Pinner.Queued()
	for _, id := range postAll(t, other, "other", addSmallDAGs(t, peer, 5, 16<<10), origins) {
		WaitStatus(t, other, id, pinclient.StatusPinned, time.Minute)
	}
	for _, id := range held {
		r, err := m.DB.FindPinByID(ctx, blocked.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != tack.StatusQueued || !r.Held {
			t.Errorf("a blocked account's request: %s, held %v; want queued and held", r.Status, r.Held)
		}
	}
	if err := m.DB.SetAccountBlocked(ctx, blocked.ID, false); err != nil {
		t.Fatal(err)
	}
	m.Pinner.Queued()
	waitFor(t, time.Minute, "the unblocked account's pins", func() bool {
		return countStatus(t, m, "blocked@example.com", tack.StatusPinned) == len(held)
	})
}

// While every fetch is taken by content nobody has and requests wait, the
// fetches that have received nothing give way after --pin-yield, long
// before --pin-stall: another account's findable pins go through.
func TestUnfindableBacklogGivesWay(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, tempData(t), func(c *Config) {
		c.Fetches = 4
		c.PinStall, c.PinYield, c.PinRetry = time.Hour, 300*time.Millisecond, time.Hour
	})
	peer := testpeer.New(t)
	a := m.MustApprovedClient(t, "lost@example.com")
	b := m.MustApprovedClient(t, "found@example.com")
	var lost []cid.Cid
	for range 40 {
		lost = append(lost, testpeer.RandomRawCID(t))
	}
	postAll(t, a, "lost", lost)
	for _, id := range postAll(t, b, "found", addSmallDAGs(t, peer, 5, 16<<10), pinclient.PinOpts.WithOrigins(Origins(t, peer)...)) {
		WaitStatus(t, b, id, pinclient.StatusPinned, time.Minute)
	}
}
