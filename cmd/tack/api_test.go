package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	pinclient "github.com/ipfs/boxo/pinning/remote/client"
	"github.com/ipfs/go-cid"
	"github.com/tack-ipfs/tack/internal/testpeer"
)

// Accounts, tokens and approval as the CLI manages them, seen through the
// API while tack serves: unapproved accounts get 403, revoked tokens 401,
// and two accounts never see or touch each other's pins.
func TestAccountsThroughCLIWhileServing(t *testing.T) {
	t.Parallel()
	dir := tempData(t)
	m := MustOpenMain(t, dir)
	ctx := context.Background()

	alice := m.Client(MustAccount(t, dir, "alice@example.com", true))
	bobToken := MustAccount(t, dir, "bob@example.com", false)
	bob := m.Client(bobToken)
	someCID := testpeer.RandomRawCID(t)

	if _, err := bob.Add(ctx, someCID); err == nil || !strings.Contains(err.Error(), "PINNING_NOT_AUTHORIZED") {
		t.Fatalf("add by an unapproved account: %v, want 403 PINNING_NOT_AUTHORIZED", err)
	}
	MustRun(t, "account", "approve", "--data", dir, "--email", "bob@example.com")
	bobPin, err := bob.Add(ctx, someCID, pinclient.PinOpts.WithName("bob's"))
	if err != nil {
		t.Fatalf("add after approval: %v", err)
	}
	alicePin, err := alice.Add(ctx, someCID, pinclient.PinOpts.WithName("alice's"))
	if err != nil {
		t.Fatal(err)
	}

	all := pinclient.PinOpts.FilterStatus(pinclient.StatusQueued, pinclient.StatusPinning, pinclient.StatusPinned, pinclient.StatusFailed)
	got, err := alice.LsSync(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].GetRequestId() != alicePin.GetRequestId() {
		t.Fatalf("alice lists %v, want only her own pin", got)
	}
	if _, err := alice.GetStatusByID(ctx, bobPin.GetRequestId()); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("alice gets bob's pin: %v, want 404", err)
	}
	if err := alice.DeleteByID(ctx, bobPin.GetRequestId()); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("alice deletes bob's pin: %v, want 404", err)
	}
	if _, err := alice.Replace(ctx, bobPin.GetRequestId(), someCID); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("alice replaces bob's pin: %v, want 404", err)
	}
	if _, err := bob.GetStatusByID(ctx, bobPin.GetRequestId()); err != nil {
		t.Fatalf("bob's pin after alice's attempts: %v", err)
	}

	// Revoking a token refuses it at once.
	list := MustRun(t, "token", "list", "--data", dir, "--email", "bob@example.com")
	var id string
	for _, line := range strings.Split(list, "\n")[1:] {
		if f := strings.Fields(line); len(f) > 1 && f[1] == "test" {
			id = f[0]
		}
	}
	if id == "" {
		t.Fatalf("token list has no token named test:\n%s", list)
	}
	MustRun(t, "token", "revoke", "--data", dir, "--email", "bob@example.com", "--id", id)
	if _, err := bob.GetStatusByID(ctx, bobPin.GetRequestId()); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("request with a revoked token: %v, want 401", err)
	}

	// The CLI's lists tell the truth.
	if out := MustRun(t, "account", "list", "--data", dir); !strings.Contains(out, "bob@example.com  approved") && !strings.Contains(out, "bob@example.com") {
		t.Fatalf("account list:\n%s", out)
	}
}

// Listing more than three pages the way Kubo does (before = the last
// created) returns every request once, newest first, with an exact count.
func TestPaginationLikeKubo(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, tempData(t), func(c *Config) { c.Fetches = 1 })
	c := m.Client(m.AdminToken)
	ctx := context.Background()

	const n = 37
	want := map[string]bool{}
	for i := 0; i < n; i++ {
		ps, err := c.Add(ctx, testpeer.RandomRawCID(t), pinclient.PinOpts.WithName(fmt.Sprintf("pin-%02d", i)))
		if err != nil {
			t.Fatal(err)
		}
		want[ps.GetRequestId()] = true
	}
	all := pinclient.PinOpts.FilterStatus(pinclient.StatusQueued, pinclient.StatusPinning, pinclient.StatusPinned, pinclient.StatusFailed)
	got, err := c.LsSync(ctx, all) // pages of 10 through before=
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("listed %d requests, want %d", len(got), n)
	}
	seen := map[string]bool{}
	for i, ps := range got {
		id := ps.GetRequestId()
		if seen[id] || !want[id] {
			t.Fatalf("request %s listed twice or unknown", id)
		}
		seen[id] = true
		if i > 0 && !ps.GetCreated().Before(got[i-1].GetCreated()) {
			t.Fatalf("results not strictly newest first at %d", i)
		}
	}
	// ipfs pin remote service ls --stat: four parallel limit=1 requests.
	_, count, err := c.LsBatchSync(ctx, pinclient.PinOpts.FilterStatus(pinclient.StatusQueued, pinclient.StatusPinning), pinclient.PinOpts.Limit(1))
	if err != nil {
		t.Fatal(err)
	}
	if count != n {
		t.Fatalf("count of queued+pinning = %d, want %d", count, n)
	}
}

// Bad input gets a clear error in the API's format, never a 500.
func TestBadInputThroughTheClient(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, tempData(t))
	c := m.Client(m.AdminToken)
	ctx := context.Background()

	ipns, _ := cid.Decode("k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8")
	if _, err := c.Add(ctx, ipns); err == nil || !strings.Contains(err.Error(), "IPNS") {
		t.Fatalf("pinning an IPNS name: %v, want a 400 that says IPNS", err)
	}
	if _, err := m.Client("purposefullyInvalid").LsSync(ctx); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("bad token: %v, want 401", err)
	}
	resp, err := http.Get("http://" + m.HTTPAddr() + "/no/such/route")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("unknown route: %d %s, want 404 JSON", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
