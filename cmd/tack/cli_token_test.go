package main

import (
	"testing"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/storetest"
)

// TestTokenLimit: past tack.MaxTokens tokens that are not revoked, `tack
// token create` says so plainly; revoking one makes room.
func TestTokenLimit(t *testing.T) {
	t.Parallel()
	dir, db := MustData(t)
	MustRun(t, "account", "create", "--data", dir, "--email", "alice@example.com")
	a := MustFindAccount(t, db, "alice@example.com")
	for range tack.MaxTokens - 1 {
		storetest.MustCreateToken(t, db, a.ID, "made before")
	}
	MustRun(t, "token", "create", "--data", dir, "--email", "alice@example.com", "--name", "the last one")
	err := runFails(t, "", "token", "create", "--data", dir, "--email", "alice@example.com", "--name", "one too many")
	if want := "this account has 100 API tokens, the most it may have: revoke one it no longer uses first"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	tokens, err := db.FindTokens(t.Context(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	MustRun(t, "token", "revoke", "--data", dir, "--email", "alice@example.com", "--id", tokens[0].ID)
	MustRun(t, "token", "create", "--data", dir, "--email", "alice@example.com", "--name", "in its place")
}
