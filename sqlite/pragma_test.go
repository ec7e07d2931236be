package sqlite

import (
	"path/filepath"
	"testing"
)

// TestPragmas checks the settings every connection must have.
func TestPragmas(t *testing.T) {
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
