package migrate

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/auth"
	tackhttp "github.com/tack-ipfs/tack/http"
	"github.com/tack-ipfs/tack/sqlite"
	"github.com/tack-ipfs/tack/sqlite/sqlitetest"
)

// target is tack's Pinning Service API over an SQLite store, served by
// httptest, with one approved account: the target of the migrations of
// these tests. No pinner runs, so its requests stay queued.
type target struct {
	db    *sqlite.DB
	acct  *tack.Account
	url   string
	token string
}

// newTarget starts a target; configure, if not nil, may change its
// Server first.
func newTarget(tb testing.TB, configure func(*tackhttp.Server)) *target {
	tb.Helper()
	ctx := context.Background()
	db := sqlitetest.MustOpen(tb)
	a := auth.New(db, []byte(strings.Repeat("k", 32)))
	acct := &tack.Account{Email: "admin@example.com", Access: tack.AccessApproved}
	if err := db.CreateAccount(ctx, acct); err != nil {
		tb.Fatal(err)
	}
	token, _, err := a.Issue(ctx, acct.ID, "migrate")
	if err != nil {
		tb.Fatal(err)
	}
	s := &tackhttp.Server{Store: db, Auth: a,
		Delegates: func() []string {
			return []string{"/ip4/198.51.100.1/tcp/4001/p2p/12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf"}
		}}
	if configure != nil {
		configure(s)
	}
	srv := httptest.NewServer(s.Handler())
	tb.Cleanup(srv.Close)
	return &target{db: db, acct: acct, url: srv.URL, token: token}
}

// mustHaveOnce fails the test unless the target has exactly one request
// for each of want's content keys, and none for any other.
func (tg *target) mustHaveOnce(tb testing.TB, want map[string]bool) {
	tb.Helper()
	pins, n, err := tg.db.FindPins(context.Background(), tack.PinFilter{AccountID: tg.acct.ID, Limit: tack.MaxListLimit})
	if err != nil {
		tb.Fatal(err)
	}
	if n > len(pins) {
		tb.Fatalf("%d requests, more than a page", n)
	}
	seen := map[string]bool{}
	for _, p := range pins {
		if seen[p.Key] {
			tb.Errorf("the target has %s twice", p.Pin.CID)
		}
		if !want[p.Key] {
			tb.Errorf("the target has %s, which was not migrated", p.Pin.CID)
		}
		seen[p.Key] = true
	}
	for k := range want {
		if !seen[k] {
			tb.Errorf("the target lacks %s", k)
		}
	}
}

// migrateFrom runs a migration from the service at src to tg and returns
// what it printed and its error.
func migrateFrom(tb testing.TB, src string, tg *target) (string, error) {
	tb.Helper()
	var out strings.Builder
	err := Run(context.Background(), Config{From: src, FromToken: "t", To: tg.url, Token: tg.token, Stdout: &out, Stderr: &out})
	tb.Logf("migrate from %s:\n%s%v", src, out.String(), err)
	return out.String(), err
}

// migrateErr runs a migration from the service at src to tg and returns
// its error's message, "" for none.
func migrateErr(tb testing.TB, src string, tg *target) string {
	tb.Helper()
	if _, err := migrateFrom(tb, src, tg); err != nil {
		return err.Error()
	}
	return ""
}
