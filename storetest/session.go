package storetest

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/tack-ipfs/tack"
)

// MustCreateSession creates a session of the account with a random ID,
// expiring at expires.
func MustCreateSession(tb testing.TB, s tack.Store, accountID int64, expires time.Time) *tack.Session {
	tb.Helper()
	sess := &tack.Session{ID: rand.Text(), AccountID: accountID, Expires: expires}
	if err := s.CreateSession(tb.Context(), sess); err != nil {
		tb.Fatalf("CreateSession(%d): %v", accountID, err)
	}
	return sess
}

// checkSessionFound fails the test unless FindSession returns want.
func checkSessionFound(tb testing.TB, s tack.Store, want *tack.Session) {
	tb.Helper()
	got, err := s.FindSession(tb.Context(), want.ID)
	if err != nil {
		tb.Errorf("FindSession(%s): %v", want.ID, err)
		return
	}
	if got.ID != want.ID || got.AccountID != want.AccountID || !got.Created.Equal(want.Created) || !got.Expires.Equal(want.Expires) {
		tb.Errorf("FindSession = %+v, want %+v", got, want)
	}
}

// checkSessionGone fails the test unless FindSession returns ENOTFOUND.
func checkSessionGone(tb testing.TB, s tack.Store, id, what string) {
	tb.Helper()
	_, err := s.FindSession(tb.Context(), id)
	checkCode(tb, "FindSession("+what+")", err, tack.ENOTFOUND)
}

// inAnHour is an hour from now, in UTC to the microsecond as stores keep
// times.
func inAnHour() time.Time { return time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond) }

func testCreateSession(t *testing.T, s tack.Store) {
	ctx := t.Context()
	a := MustCreateAccount(t, s, "ruth@example.com")
	start := time.Now()
	sess := MustCreateSession(t, s, a.ID, inAnHour())
	checkTime(t, "Created", sess.Created, start, time.Now())
	checkSessionFound(t, s, sess)
	checkSessionGone(t, s, "no-such-session", "unknown")

	err := s.CreateSession(ctx, &tack.Session{ID: sess.ID, AccountID: a.ID, Expires: inAnHour()})
	checkCode(t, "CreateSession(existing id)", err, tack.ECONFLICT)
	err = s.CreateSession(ctx, &tack.Session{ID: rand.Text(), AccountID: a.ID + 1000, Expires: inAnHour()})
	checkCode(t, "CreateSession(unknown account)", err, tack.ENOTFOUND)
	checkSessionFound(t, s, sess)
}

func testDeleteSessions(t *testing.T, s tack.Store) {
	ctx := t.Context()
	a := MustCreateAccount(t, s, "sam@example.com")
	b := MustCreateAccount(t, s, "tess@example.com")
	a1 := MustCreateSession(t, s, a.ID, inAnHour())
	a2 := MustCreateSession(t, s, a.ID, inAnHour())
	a3 := MustCreateSession(t, s, a.ID, inAnHour())
	b1 := MustCreateSession(t, s, b.ID, inAnHour())

	if err := s.DeleteSession(ctx, a1.ID); err != nil {
		t.Fatalf("DeleteSession: %v", err)
	}
	checkSessionGone(t, s, a1.ID, "deleted")
	checkSessionFound(t, s, a2)
	if err := s.DeleteSession(ctx, a1.ID); err != nil {
		t.Errorf("DeleteSession(deleted): %v, want no error", err)
	}
	if err := s.DeleteSession(ctx, "no-such-session"); err != nil {
		t.Errorf("DeleteSession(unknown): %v, want no error", err)
	}

	if err := s.DeleteSessions(ctx, a.ID); err != nil {
		t.Fatalf("DeleteSessions: %v", err)
	}
	checkSessionGone(t, s, a2.ID, "signed out everywhere")
	checkSessionGone(t, s, a3.ID, "signed out everywhere")
	checkSessionFound(t, s, b1)
	if err := s.DeleteSessions(ctx, a.ID); err != nil {
		t.Errorf("DeleteSessions(no sessions left): %v, want no error", err)
	}
	if err := s.DeleteSessions(ctx, b.ID+1000); err != nil {
		t.Errorf("DeleteSessions(unknown account): %v, want no error", err)
	}
	// Signed out, the account signs in again.
	checkSessionFound(t, s, MustCreateSession(t, s, a.ID, inAnHour()))
}

func testExpiredSessions(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "uma@example.com")
	b := MustCreateAccount(t, s, "vic@example.com")
	past := time.Now().Add(-time.Minute).UTC().Truncate(time.Microsecond)
	expired := MustCreateSession(t, s, a.ID, past)
	live := MustCreateSession(t, s, a.ID, inAnHour())
	// Whether an expired session is still found before the next
	// CreateSession is up to the store; after it, it is gone.
	MustCreateSession(t, s, b.ID, inAnHour())
	checkSessionGone(t, s, expired.ID, "expired, then another session created")
	checkSessionFound(t, s, live)
}
