package http_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	pinclient "github.com/ipfs/boxo/pinning/remote/client"
	"github.com/ipfs/go-cid"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/tack-ipfs/tack"
)

var allStatuses = []pinclient.Status{pinclient.StatusQueued, pinclient.StatusPinning, pinclient.StatusPinned, pinclient.StatusFailed}

// TestBoxoClient drives the API with boxo's client, the one behind Kubo's
// `ipfs pin remote`.
func TestBoxoClient(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	_, token := e.MustAccount(t, "a@example.com", tack.AccessApproved)
	c := pinclient.NewClient(e.url, token)

	// add, as `ipfs pin remote add --name=photos` with origins
	root := MustCID(t, cid.DagProtobuf, "root")
	ps, err := c.Add(ctx, root, pinclient.PinOpts.WithName("photos"), pinclient.PinOpts.WithOrigins(ma.StringCast(origin)))
	if err != nil {
		t.Fatal(err)
	}
	if ps.GetStatus() != pinclient.StatusQueued || ps.GetPin().GetName() != "photos" || !ps.GetPin().GetCid().Equals(root) {
		t.Errorf("add: got %s", ps)
	}
	if d := ps.GetDelegates(); len(d) != 1 || d[0].String() != delegate {
		t.Errorf("add: got delegates %v", d)
	}
	// the poll of `ipfs pin remote add`
	got, err := c.GetStatusByID(ctx, ps.GetRequestId())
	if err != nil {
		t.Fatal(err)
	}
	if got.GetRequestId() != ps.GetRequestId() || !got.GetCreated().Equal(ps.GetCreated()) {
		t.Errorf("status: got %s, want %s", got, ps)
	}

	// 24 more pins, then `ipfs pin remote ls`: pages of 10 through before.
	for i := range 24 {
		if _, err := c.Add(ctx, MustCID(t, cid.Raw, "p"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	all, err := c.LsSync(ctx, pinclient.PinOpts.FilterStatus(allStatuses...), pinclient.PinOpts.Limit(10))
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 25 {
		t.Errorf("ls: got %d pins, want 25", len(all))
	}
	seen := map[string]bool{}
	for _, p := range all {
		seen[p.GetRequestId()] = true
	}
	if len(seen) != 25 {
		t.Errorf("ls: got %d distinct requestids, want 25", len(seen))
	}

	// `ipfs pin remote service ls --stat`: four counts.
	for _, st := range allStatuses {
		_, n, err := c.LsBatchSync(ctx, pinclient.PinOpts.FilterStatus(st), pinclient.PinOpts.Limit(1))
		if err != nil {
			t.Fatal(err)
		}
		if want := map[pinclient.Status]int{pinclient.StatusQueued: 25}[st]; n != want {
			t.Errorf("stat %s: got %d, want %d", st, n, want)
		}
	}

	// the MFS policy: find by name across all statuses, then replace
	byName, err := c.LsSync(ctx, pinclient.PinOpts.FilterName("photos"), pinclient.PinOpts.FilterStatus(allStatuses...))
	if err != nil || len(byName) != 1 {
		t.Fatalf("ls by name: got %v, %v", byName, err)
	}
	newRoot := MustCID(t, cid.DagCBOR, "root2")
	replaced, err := c.Replace(ctx, byName[0].GetRequestId(), newRoot, pinclient.PinOpts.WithName("photos"))
	if err != nil {
		t.Fatal(err)
	}
	if replaced.GetRequestId() == ps.GetRequestId() || !replaced.GetPin().GetCid().Equals(newRoot) {
		t.Errorf("replace: got %s", replaced)
	}
	if _, err := c.GetStatusByID(ctx, ps.GetRequestId()); err == nil || !strings.Contains(err.Error(), "NOT_FOUND") {
		t.Errorf("old request after replace: got %v, want NOT_FOUND", err)
	}
	// by CID, in another encoding than was sent
	byCID, err := c.LsSync(ctx, pinclient.PinOpts.FilterCIDs(newRoot), pinclient.PinOpts.FilterStatus(allStatuses...))
	if err != nil || len(byCID) != 1 || byCID[0].GetRequestId() != replaced.GetRequestId() {
		t.Errorf("ls by cid: got %v, %v", byCID, err)
	}

	// `ipfs pin remote rm`
	if err := c.DeleteByID(ctx, replaced.GetRequestId()); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteByID(ctx, replaced.GetRequestId()); err == nil || !strings.Contains(err.Error(), "NOT_FOUND") {
		t.Errorf("second delete: got %v, want NOT_FOUND", err)
	}

	// boxo's LsMeta sends map[k:v], which is not JSON: a readable 400.
	_, err = c.LsSync(ctx, pinclient.PinOpts.LsMeta(map[string]string{"k": "v"}))
	if err == nil || !strings.Contains(err.Error(), "BAD_REQUEST") || !strings.Contains(err.Error(), "meta") {
		t.Errorf("LsMeta: got %v, want a BAD_REQUEST about meta", err)
	}

	// Errors reach the user as reason and details.
	for _, tt := range []struct {
		token, want string
	}{
		{"purposefullyInvalid", `reason: "UNAUTHORIZED"`},
		{"", `reason: "UNAUTHORIZED"`},
	} {
		_, _, err := pinclient.NewClient(e.url, tt.token).LsBatchSync(ctx, pinclient.PinOpts.Limit(1))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("token %q: got %v, want %s", tt.token, err, tt.want)
		}
	}
	_, pending := e.MustAccount(t, "b@example.com", tack.AccessRequested)
	_, err = pinclient.NewClient(e.url, pending).Add(ctx, root)
	if err == nil || !strings.Contains(err.Error(), `reason: "PINNING_NOT_AUTHORIZED"`) || !strings.Contains(err.Error(), accessURL) {
		t.Errorf("unapproved: got %v", err)
	}
	// A wrong endpoint path shows a 404, as Kubo's tests expect.
	_, err = pinclient.NewClient(e.url+"/wrong", token).LsSync(ctx)
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("wrong endpoint: got %v, want a 404", err)
	}
}
