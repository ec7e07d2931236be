package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/auth"
	"github.com/tack-ipfs/tack/sqlite"
	"github.com/tack-ipfs/tack/storetest"
)

// MustData makes a data directory with an empty store, as a first `tack
// serve` leaves it, without starting tack, and returns it with a second
// handle on its store, closed when the test ends.
func MustData(tb testing.TB) (string, *sqlite.DB) {
	tb.Helper()
	dir := tempData(tb)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		tb.Fatal(err)
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "tack.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return dir, db
}

// runFails runs a tack command line that must fail, and returns its error.
func runFails(tb testing.TB, stdin string, args ...string) error {
	tb.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(stdin), &stdout, &stderr, func(string) string { return "" })
	if err == nil {
		tb.Fatalf("tack %s succeeded, want an error; printed %q", strings.Join(args, " "), stdout.String())
	}
	return err
}

// MustFindAccount returns the account with the email.
func MustFindAccount(tb testing.TB, db *sqlite.DB, email string) *tack.Account {
	tb.Helper()
	a, err := db.FindAccountByEmail(context.Background(), email)
	if err != nil {
		tb.Fatalf("FindAccountByEmail(%s): %v", email, err)
	}
	return a
}

// checkSignedOut fails the test unless the session was deleted.
func checkSignedOut(tb testing.TB, db *sqlite.DB, s *tack.Session) {
	tb.Helper()
	if _, err := db.FindSession(context.Background(), s.ID); tack.ErrorCode(err) != tack.ENOTFOUND {
		tb.Errorf("session still there (FindSession: %v), want the account signed out", err)
	}
}

func TestAccountPassword(t *testing.T) {
	t.Parallel()
	dir, db := MustData(t)
	MustRun(t, "account", "create", "--data", dir, "--email", "ann@example.com")
	a := MustFindAccount(t, db, "ann@example.com")
	if a.PasswordHash != "" {
		t.Fatalf("new account has a password hash %q", a.PasswordHash)
	}
	s := storetest.MustCreateSession(t, db, a.ID, time.Now().Add(time.Hour))

	out := MustRunStdin(t, "correct horse battery\nsecond line\n", "account", "password", "--data", dir, "--email", "ann@example.com")
	if !strings.Contains(out, "password set") {
		t.Errorf("tack account password printed %q", out)
	}
	hash := MustFindAccount(t, db, "ann@example.com").PasswordHash
	for password, want := range map[string]bool{"correct horse battery": true, "correct horse battery\n": false, "second line": false} {
		if ok, err := auth.CheckPassword(hash, password); err != nil || ok != want {
			t.Errorf("CheckPassword(stored hash, %q) = %v, %v; want %v", password, ok, err, want)
		}
	}
	checkSignedOut(t, db, s)

	// A Windows line ending is not part of the password; no line ending
	// at all is fine.
	for _, stdin := range []string{"windows-line\r\n", "no newline at all"} {
		MustRunStdin(t, stdin, "account", "password", "--data", dir, "--email", "ann@example.com")
		want := strings.TrimSuffix(stdin, "\r\n")
		if ok, err := auth.CheckPassword(MustFindAccount(t, db, "ann@example.com").PasswordHash, want); err != nil || !ok {
			t.Errorf("after setting %q: CheckPassword(%q) = %v, %v; want true", stdin, want, ok, err)
		}
	}

	hash = MustFindAccount(t, db, "ann@example.com").PasswordHash
	for _, stdin := range []string{"", "\n", "short\n", "seven77\nlong enough on line two\n"} {
		err := runFails(t, stdin, "account", "password", "--data", dir, "--email", "ann@example.com")
		if !strings.Contains(err.Error(), "at least 8 characters") {
			t.Errorf("password %q: error %q, want it to say the password is too short", stdin, err)
		}
	}
	if got := MustFindAccount(t, db, "ann@example.com").PasswordHash; got != hash {
		t.Errorf("a refused password changed the hash")
	}
	runFails(t, "long enough password\n", "account", "password", "--data", dir)
	runFails(t, "long enough password\n", "account", "password", "--data", dir, "--email", "nobody@example.com")
}

func TestAccountBlock(t *testing.T) {
	t.Parallel()
	dir, db := MustData(t)
	MustRun(t, "account", "create", "--data", dir, "--email", "ben@example.com", "--approve")
	MustRun(t, "account", "create", "--data", dir, "--email", "cat@example.com", "--approve")
	ben := MustFindAccount(t, db, "ben@example.com")
	s := storetest.MustCreateSession(t, db, ben.ID, time.Now().Add(time.Hour))
	for _, name := range []string{"one", "two", "three"} {
		storetest.MustCreatePin(t, db, storetest.NewPin(t, ben.ID, name))
	}

	MustRun(t, "account", "block", "--data", dir, "--email", "ben@example.com")
	if a := MustFindAccount(t, db, "ben@example.com"); !a.Blocked || a.Access != tack.AccessApproved {
		t.Errorf("after block: Blocked %v, Access %s; want blocked and access unchanged", a.Blocked, a.Access)
	}
	if MustFindAccount(t, db, "cat@example.com").Blocked {
		t.Errorf("blocking ben blocked cat")
	}
	checkSignedOut(t, db, s)

	// account list: EMAIL ACCESS ADMIN BLOCKED PINS CREATED.
	rows := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(MustRun(t, "account", "list", "--data", dir)), "\n") {
		f := strings.Fields(line)
		rows[f[0]] = f
	}
	if got, want := strings.Join(rows["EMAIL"], " "), "EMAIL ACCESS ADMIN BLOCKED PINS CREATED"; got != want {
		t.Errorf("account list header = %q, want %q", got, want)
	}
	if got, want := strings.Join(rows["ben@example.com"][:5], " "), "ben@example.com approved false true 3"; got != want {
		t.Errorf("account list row = %q, want %q", got, want)
	}
	if got, want := strings.Join(rows["cat@example.com"][:5], " "), "cat@example.com approved false false 0"; got != want {
		t.Errorf("account list row = %q, want %q", got, want)
	}

	MustRun(t, "account", "unblock", "--data", dir, "--email", "ben@example.com")
	if MustFindAccount(t, db, "ben@example.com").Blocked {
		t.Errorf("after unblock: still blocked")
	}
	runFails(t, "", "account", "block", "--data", dir, "--email", "nobody@example.com")
}

func TestAccountApproveMessage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir, db := MustData(t)
	MustRun(t, "account", "create", "--data", dir, "--email", "dan@example.com")
	dan := MustFindAccount(t, db, "dan@example.com")
	if err := db.RequestAccess(ctx, &tack.AccessRequest{AccountID: dan.ID, What: "datasets", Volume: "1 TB"}); err != nil {
		t.Fatal(err)
	}

	for _, step := range []struct {
		command, message string
		want             tack.Access
	}{
		{"deny", "Tell me more about the datasets.", tack.AccessDenied},
		{"approve", "Welcome!", tack.AccessApproved},
		{"approve", "", tack.AccessApproved},
	} {
		args := []string{"account", step.command, "--data", dir, "--email", "dan@example.com"}
		if step.message != "" {
			args = append(args, "--message", step.message)
		}
		before := time.Now()
		MustRun(t, args...)
		if got := MustFindAccount(t, db, "dan@example.com").Access; got != step.want {
			t.Errorf("after %s: Access %s, want %s", step.command, got, step.want)
		}
		r, err := db.FindAccessRequest(ctx, dan.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.Message != step.message || r.Decided.Before(before.Truncate(time.Microsecond)) {
			t.Errorf("after %s --message %q: request Message %q, Decided %v; want the message, decided after %v", step.command, step.message, r.Message, r.Decided, before)
		}
	}

	// An account that never asked is approved all the same.
	MustRun(t, "account", "create", "--data", dir, "--email", "eve@example.com")
	MustRun(t, "account", "approve", "--data", dir, "--email", "eve@example.com", "--message", "Hi")
	if got := MustFindAccount(t, db, "eve@example.com").Access; got != tack.AccessApproved {
		t.Errorf("eve: Access %s, want approved", got)
	}
}

func TestAccountLimits(t *testing.T) {
	t.Parallel()
	dir, db := MustData(t)
	MustRun(t, "account", "create", "--data", dir, "--email", "lim@example.com", "--approve")
	out := MustRun(t, "account", "limits", "--data", dir, "--email", "lim@example.com")
	if !strings.Contains(out, "limit: the server's default") {
		t.Errorf("limits of a new account: %q", out)
	}
	out = MustRun(t, "account", "limits", "--data", dir, "--email", "lim@example.com", "--max-pending", "500", "--max-bytes", "2GiB")
	if !strings.Contains(out, "limit: 500)") || !strings.Contains(out, "limit: 2147483648 bytes") {
		t.Errorf("after setting both: %q", out)
	}
	a := MustFindAccount(t, db, "lim@example.com")
	if a.MaxPending == nil || *a.MaxPending != 500 || a.MaxBytes == nil || *a.MaxBytes != 2<<30 {
		t.Errorf("stored limits %v, %v", a.MaxPending, a.MaxBytes)
	}
	// One flag leaves the other alone; default and 0 mean what they say.
	MustRun(t, "account", "limits", "--data", dir, "--email", "lim@example.com", "--max-pending", "default")
	out = MustRun(t, "account", "limits", "--data", dir, "--email", "lim@example.com", "--max-bytes", "0")
	if !strings.Contains(out, "limit: the server's default)") || !strings.Contains(out, "limit: none)") {
		t.Errorf("after default and 0: %q", out)
	}
	for _, bad := range [][]string{{"--max-pending", "-3"}, {"--max-bytes", "lots"}, {"--max-pending", "1e9"}} {
		err := runFails(t, "", append([]string{"account", "limits", "--data", dir, "--email", "lim@example.com"}, bad...)...)
		if !strings.Contains(err.Error(), "invalid") {
			t.Errorf("%v: %v", bad, err)
		}
	}
}

func TestAccountPurge(t *testing.T) {
	t.Parallel()
	dir, db := MustData(t)
	MustRun(t, "account", "create", "--data", dir, "--email", "gone@example.com", "--approve")
	MustRun(t, "account", "create", "--data", dir, "--email", "stays@example.com", "--approve")
	gone, stays := MustFindAccount(t, db, "gone@example.com"), MustFindAccount(t, db, "stays@example.com")
	storetest.MustCreatePins(t, db, gone.ID, "g", 5)
	storetest.MustCreatePins(t, db, stays.ID, "s", 2)

	if err := runFails(t, "", "account", "purge", "--data", dir, "--email", "gone@example.com"); !strings.Contains(err.Error(), "has 5 pin requests: add --yes") {
		t.Errorf("purge without --yes: %v", err)
	}
	if out := MustRun(t, "account", "purge", "--data", dir, "--email", "gone@example.com", "--yes"); !strings.Contains(out, "deleted 5 pin requests") {
		t.Errorf("purge: %q", out)
	}
	for acct, want := range map[int64]int{gone.ID: 0, stays.ID: 2} {
		if _, n := storetest.MustFindPins(t, db, tack.PinFilter{AccountID: acct, Statuses: []tack.Status{tack.StatusQueued}}); n != want {
			t.Errorf("account %d: %d requests, want %d", acct, n, want)
		}
	}
}
