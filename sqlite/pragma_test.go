package sqlite

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tack-ipfs/tack"
)

// TestPragmas checks the settings every connection must have.
func TestPragmas(t *testing.T) {
	t.Parallel()
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "tack.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	tests := []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"foreign_keys", "1"},
		{"busy_timeout", "10000"},
		{"wal_autocheckpoint", "0"}, // checkpoints run in the background
		{"temp_store", "2"},         // MEMORY: savepoints' journals
	}
	for _, tt := range tests {
		var got string
		if err := db.db.QueryRowContext(t.Context(), "PRAGMA "+tt.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", tt.pragma, err)
		}
		if got != tt.want {
			t.Errorf("PRAGMA %s = %q, want %q", tt.pragma, got, tt.want)
		}
	}
	var n int
	if err := db.db.QueryRowContext(t.Context(), "SELECT count(*) FROM migrations").Scan(&n); err != nil {
		t.Fatalf("count migrations: %v", err)
	}
	names, _ := migrationFS.ReadDir("migration")
	if n != len(names) {
		t.Errorf("%d migrations recorded, want %d", n, len(names))
	}
}

// TestCheckpoints: with checkpoints off the commit path, the background
// checkpointer still copies the log back, and Close leaves no log behind.
func TestCheckpoints(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tack.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	a := &tack.Account{Email: "wal@example.com", Access: tack.AccessApproved}
	if err := db.CreateAccount(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		r := &tack.PinRequest{AccountID: a.ID, Pin: tack.Pin{CID: "c"}, Key: fmt.Sprint(i)}
		if err := db.CreatePin(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	// A checkpoint that finds nothing left to copy: the background one
	// has run.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var busy, logFrames, copied int
		if err := db.db.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logFrames, &copied); err != nil {
			t.Fatal(err)
		}
		if logFrames > 0 && logFrames == copied {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("log of %d frames, %d copied", logFrames, copied)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() != 0 {
		t.Errorf("the log has %d bytes after Close, want none", fi.Size())
	}
	db = MustOpenTest(t, path)
	if _, n, err := db.FindPins(t.Context(), tack.PinFilter{AccountID: a.ID, Statuses: []tack.Status{tack.StatusQueued}}); err != nil || n != 200 {
		t.Errorf("after reopening: %d requests (%v), want 200", n, err)
	}
}

// MustOpenTest opens the database at path for a test and closes it after.
func MustOpenTest(tb testing.TB, path string) *DB {
	tb.Helper()
	db, err := Open(tb.Context(), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}
