package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pinclient "github.com/ipfs/boxo/pinning/remote/client"
	"github.com/tack-ipfs/tack/internal/pgtest"
	"github.com/tack-ipfs/tack/internal/testpeer"
)

// TestPostgresServe runs tack on PostgreSQL: a pin made through the API
// against a real peer reaches pinned, and a second tack with its own data
// directory on the same database answers the same account's calls, its
// pins and the first one's alike.
func TestPostgresServe(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	ctx := t.Context()
	onStore := func(c *Config) { c.Store = url }
	dir1 := tempData(t)
	m1 := MustOpenMain(t, dir1, onStore)
	if m1.AdminToken == "" {
		t.Fatal("no admin token on the first start")
	}
	if _, err := os.Stat(filepath.Join(dir1, "tack.db")); err == nil {
		t.Error("tack.db made in the data directory with --store postgres://…")
	}
	peer := testpeer.New(t)
	c1 := m1.Client(m1.AdminToken)
	root := peer.AddFile(t, 1<<20, 64<<10, 1)
	ps, err := c1.Add(ctx, root, pinclient.PinOpts.WithName("first"), pinclient.PinOpts.WithOrigins(Origins(t, peer)...))
	if err != nil {
		t.Fatal(err)
	}
	WaitStatus(t, c1, ps.GetRequestId(), pinclient.StatusPinned, time.Minute)
	m1.MustHaveDAG(t, peer, root)

	// The second node shares the database, and with it the key that signs
	// tokens: nothing is copied between the data directories.
	dir2 := tempData(t)
	m2 := MustOpenMain(t, dir2, onStore)
	if m2.AdminToken != "" {
		t.Error("the second node made another admin account")
	}
	c2 := m2.Client(m1.AdminToken)
	got, err := c2.GetStatusByID(ctx, ps.GetRequestId())
	if err != nil {
		t.Fatalf("the first node's request through the second: %v", err)
	}
	if got.GetStatus() != pinclient.StatusPinned || got.GetPin().GetName() != "first" {
		t.Errorf("through the second node: %s %q", got.GetStatus(), got.GetPin().GetName())
	}

	root2 := peer.AddDAGCBOR(t, 30)
	ps2, err := c2.Add(ctx, root2, pinclient.PinOpts.WithName("second"), pinclient.PinOpts.WithOrigins(Origins(t, peer)...))
	if err != nil {
		t.Fatal(err)
	}
	WaitStatus(t, c1, ps2.GetRequestId(), pinclient.StatusPinned, time.Minute)
	for i, c := range []*pinclient.Client{c1, c2} {
		all, err := c.LsSync(ctx, pinclient.PinOpts.FilterStatus(pinclient.StatusPinned))
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 2 {
			t.Errorf("node %d lists %d pinned requests, want 2", i+1, len(all))
		}
	}
	if err := c1.DeleteByID(ctx, ps2.GetRequestId()); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.GetStatusByID(ctx, ps2.GetRequestId()); err == nil {
		t.Error("a request deleted through the first node is still found through the second")
	}

	// The account commands manage the same database, from any directory.
	MustRun(t, "account", "create", "--store", url, "--email", "cli@example.com", "--approve")
	if out := MustRun(t, "account", "list", "--store", url); !strings.Contains(out, "cli@example.com") {
		t.Errorf("account list --store: %s", out)
	}
	if _, err := m2.DB.FindAccountByEmail(ctx, "cli@example.com"); err != nil {
		t.Errorf("the account made by the CLI, through the second node: %v", err)
	}
}
