package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/blockstore"
	"github.com/tack-ipfs/tack/blockstore/packindextest"
	"github.com/tack-ipfs/tack/internal/pgtest"
	"github.com/tack-ipfs/tack/postgres"
	"github.com/tack-ipfs/tack/sqlite"
	"github.com/tack-ipfs/tack/storetest"
)

// TestStoreCopy fills an SQLite store through its API with every kind of
// row, copies it into PostgreSQL with `tack store copy`, and checks that
// PostgreSQL answers the same: accounts, tokens valid and revoked,
// sessions, invitations, reset links, pins in every status with their
// ids and times, usage, and the queue's next claims.
func TestStoreCopy(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "tack.db")
	src, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()

	op := &tack.Account{Email: "op@example.com", Admin: true, Access: tack.AccessApproved, PasswordHash: "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA"}
	if err := src.CreateAccount(ctx, op); err != nil {
		t.Fatal(err)
	}
	a := storetest.MustCreateAccount(t, src, "a@example.com")
	b := storetest.MustCreateAccount(t, src, "b@example.com")
	blocked := storetest.MustCreateAccount(t, src, "blocked@example.com")
	storetest.MustRequestAccess(t, src, b.ID, "photos")
	if err := src.SetAccountAccess(ctx, b.ID, tack.AccessDenied, "not now"); err != nil {
		t.Fatal(err)
	}
	limit := int64(500)
	storetest.MustSetLimits(t, src, a.ID, &limit, nil)

	tok := storetest.MustCreateToken(t, src, a.ID, "laptop")
	revoked := storetest.MustCreateToken(t, src, a.ID, "old")
	if err := src.RevokeToken(ctx, a.ID, revoked.ID); err != nil {
		t.Fatal(err)
	}
	if err := src.TouchToken(ctx, tok.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	sess := storetest.MustCreateSession(t, src, a.ID, time.Now().Add(time.Hour))
	inv := storetest.MustCreateInvite(t, src, op.ID, time.Now().Add(time.Hour))
	used := storetest.MustCreateInvite(t, src, op.ID, time.Now().Add(time.Hour))
	invited := &tack.Account{Email: "invited@example.com"}
	if err := src.CreateAccountWithInvite(ctx, invited, used.ID); err != nil {
		t.Fatal(err)
	}
	reset := storetest.MustCreatePasswordReset(t, src, b.ID, op.ID, time.Now().Add(time.Hour))

	// Pins in every status, and every state of the queue.
	pins := storetest.MustCreatePins(t, src, a.ID, "a", 8)
	storetest.MustCreatePins(t, src, b.ID, "b", 4)
	meta := storetest.NewPin(t, a.ID, "with meta")
	meta.Pin.Meta = map[string]string{"app": "photos", "z": "1"}
	meta.Pin.Origins = []string{"/ip4/192.0.2.1/tcp/4001"}
	storetest.MustCreatePin(t, src, meta)
	storetest.MustCreatePins(t, src, blocked.ID, "held", 2)
	if err := src.SetAccountBlocked(ctx, blocked.ID, true); err != nil {
		t.Fatal(err)
	}
	claimed := storetest.MustClaim(t, src, "w1", 4, time.Now().Add(time.Hour)) // a-0, b-0, a-1, b-1
	if err := src.CompleteDAG(ctx, &tack.DAG{Key: claimed[0].Key, Blocks: 3, Bytes: 300}); err != nil {
		t.Fatal(err)
	}
	if err := src.FailPins(ctx, "w1", []string{claimed[1].ID}, "too big"); err != nil {
		t.Fatal(err)
	}
	storetest.MustRetry(t, src, "w1", []string{claimed[2].ID}, time.Now().Add(time.Hour), "no provider", tack.Progress{})
	storetest.MustRenew(t, src, "w1", []string{claimed[3].ID}, 5, 50)
	repl := storetest.NewPin(t, a.ID, "replacement")
	if err := src.ReplacePin(ctx, a.ID, claimed[0].ID, repl); err != nil {
		t.Fatal(err)
	}
	// A second request for the held DAG, pinned at once.
	same := storetest.MustCreatePin(t, src, &tack.PinRequest{AccountID: b.ID, Pin: tack.Pin{CID: claimed[0].Pin.CID}, Key: claimed[0].Key})
	if same.Status != tack.StatusPinned {
		t.Fatalf("second request for a held DAG: %s", same.Status)
	}

	// The token signing key, an upload's keep list, and an S3 pack index
	// with positions past the first.
	key, err := src.EnsureSecret(ctx, "token-signing-key", []byte(strings.Repeat("s", 32)))
	if err != nil {
		t.Fatal(err)
	}
	if err := src.KeepUpload(ctx, b.ID, claimed[0].Key, []tack.KeptBlock{{Hash: 1, Size: 10}, {Hash: 1 << 63, Size: 20}, {Hash: 42, Size: 30}}); err != nil {
		t.Fatal(err)
	}
	var entries []blockstore.PackMove
	for i := range 300 {
		entries = append(entries, blockstore.PackMove{PackEntry: blockstore.PackEntry{Hash: packindextest.Hash(i), Offset: int64(100 * i), Length: 100}})
	}
	if err := src.AddPack(ctx, blockstore.Pack{Name: "packs/a.pack", Size: 30000}, entries[:200]); err != nil {
		t.Fatal(err)
	}
	if err := src.AddPack(ctx, blockstore.Pack{Name: "packs/b.pack", Size: 10000}, entries[200:]); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Touch(ctx, [][]byte{packindextest.Hash(7)}); err != nil {
		t.Fatal(err)
	}
	srcSeq, err := src.Seq(ctx)
	if err != nil {
		t.Fatal(err)
	}

	out := MustRun(t, "store", "copy", "--from", "sqlite://"+path, "--to", url, "--sample", "1000")
	for _, want := range []string{"copied pins: 16 rows", "checked pins: 16 rows in both", "copied pack_blocks: 300 rows", "checked secrets: 1 rows", "0 differences", "the copy matches the source"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	missing := filepath.Join(t.TempDir(), "typo.db")
	if err := runFails(t, "", "store", "copy", "--from", "sqlite://"+missing, "--to", pgtest.NewDatabase(t)); !strings.Contains(err.Error(), "no tack database at "+missing) {
		t.Errorf("a copy from a path with no database: %v", err)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("a copy from a path with no database made an empty one there")
	}
	if err := runFails(t, "", "store", "copy", "--from", "sqlite://"+path, "--to", url); !strings.Contains(err.Error(), "not empty") {
		t.Errorf("a second copy into the same store: %v", err)
	}

	dst, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if got, err := dst.EnsureSecret(ctx, "token-signing-key", []byte("another")); err != nil || string(got) != string(key) {
		t.Errorf("the token signing key after the copy: %q, %v", got, err)
	}
	if e, err := dst.Lookup(ctx, packindextest.Hash(250)); err != nil || e.Pack != "packs/b.pack" || e.Offset != 25000 {
		t.Errorf("pack index entry after the copy: %+v, %v", e, err)
	}
	// Positions go on past the copied ones: a touch after the copy is
	// newer than every copied entry.
	if dstSeq, err := dst.Seq(ctx); err != nil || dstSeq < srcSeq {
		t.Errorf("pack index position after the copy: %d (%v), want at least %d", dstSeq, err, srcSeq)
	}
	if _, err := dst.Touch(ctx, [][]byte{packindextest.Hash(8)}); err != nil {
		t.Fatal(err)
	}
	if n, _, err := dst.DeleteUnchanged(ctx, [][]byte{packindextest.Hash(7), packindextest.Hash(8)}, srcSeq); err != nil || n != 1 {
		t.Errorf("DeleteUnchanged at the copied position removed %d (%v), want block 7 alone", n, err)
	}
	kept := 0
	if err := dst.KeptUploadHashes(ctx, claimed[0].Key, func(hs []uint64) error { kept += len(hs); return nil }); err != nil || kept != 3 {
		t.Errorf("the upload keep list after the copy: %d hashes (%v), want 3", kept, err)
	}
	if u, err := dst.FindUsage(ctx, b.ID); err != nil || u.Kept != 60 {
		t.Errorf("the bytes kept for the account after the copy: %+v, %v; want 60", u, err)
	}

	// The same answers from both.
	same2 := func(what string, get func(tack.Store) (any, error)) {
		t.Helper()
		w, err := get(src)
		if err != nil {
			t.Fatalf("%s from SQLite: %v", what, err)
		}
		g, err := get(dst)
		if err != nil {
			t.Fatalf("%s from PostgreSQL: %v", what, err)
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s:\nPostgreSQL %+v\n    SQLite %+v", what, g, w)
		}
	}
	same2("accounts", func(s tack.Store) (any, error) { return s.FindAccounts(ctx) })
	same2("access request", func(s tack.Store) (any, error) { return s.FindAccessRequest(ctx, b.ID) })
	same2("tokens", func(s tack.Store) (any, error) { return s.FindTokens(ctx, a.ID) })
	same2("session", func(s tack.Store) (any, error) { return s.FindSession(ctx, sess.ID) })
	same2("invitations", func(s tack.Store) (any, error) { return s.FindInvites(ctx, time.Now()) })
	same2("reset link", func(s tack.Store) (any, error) { return s.FindPasswordReset(ctx, reset.ID) })
	same2("usages", func(s tack.Store) (any, error) { return s.FindUsages(ctx) })
	same2("dag", func(s tack.Store) (any, error) { return s.FindDAG(ctx, claimed[0].Key) })
	same2("wanted keys", func(s tack.Store) (any, error) { return s.WantedKeys(ctx, "", 100) })
	for _, acct := range []int64{a.ID, b.ID, blocked.ID} {
		same2("pins", func(s tack.Store) (any, error) {
			pins, n, err := s.FindPins(ctx, tack.PinFilter{AccountID: acct, Limit: 100})
			return []any{pins, n}, err
		})
		same2("failed pins", func(s tack.Store) (any, error) {
			pins, n, err := s.FindPins(ctx, tack.PinFilter{AccountID: acct, Statuses: []tack.Status{tack.StatusFailed}, Limit: 10})
			return []any{pins, n}, err
		})
	}
	same2("meta filter", func(s tack.Store) (any, error) {
		pins, n, err := s.FindPins(ctx, tack.PinFilter{AccountID: a.ID, Meta: map[string]string{"app": "photos"}})
		return []any{pins, n}, err
	})
	if got, err := dst.FindTokenByID(ctx, revoked.ID); err != nil || got.Revoked.IsZero() {
		t.Errorf("revoked token in PostgreSQL: %+v, %v", got, err)
	}
	if got, err := dst.FindTokenByID(ctx, tok.ID); err != nil || !got.Revoked.IsZero() {
		t.Errorf("valid token in PostgreSQL: %+v, %v", got, err)
	}
	if got := storetest.MustFindPin(t, dst, a.ID, pins[7].ID); !got.Created.Equal(pins[7].Created) {
		t.Errorf("request %s created %v in PostgreSQL, %v in SQLite", pins[7].ID, got.Created, pins[7].Created)
	}
	// The queue goes on in the same order: claims take the same requests.
	same2("claims", func(s tack.Store) (any, error) {
		got, err := s.ClaimPins(ctx, "w2", 100, time.Now().Add(time.Hour))
		return storeIDs(got), err
	})
	// An account made after the copy gets a new id.
	n := &tack.Account{Email: "new@example.com"}
	if err := dst.CreateAccount(ctx, n); err != nil || n.ID <= invited.ID {
		t.Errorf("new account after the copy: id %d, %v", n.ID, err)
	}
	_ = inv
}

func storeIDs(pins []*tack.PinRequest) []string {
	out := make([]string, len(pins))
	for i, p := range pins {
		out[i] = p.ID
	}
	return out
}
