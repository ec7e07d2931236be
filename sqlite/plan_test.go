package sqlite

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/tack-ipfs/tack"
)

// TestPinnedListFromIndex checks that the listing of an account's pinned
// requests, the API's default, reads each record from
// pins_pinned_list_idx as it stands: the index's expression is pinRecord,
// so that SQLite neither evaluates it again nor reads the table. Should
// the two differ, the listing stays right but costs a fifth more.
func TestPinnedListFromIndex(t *testing.T) {
	t.Parallel()
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "tack.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, statuses := range [][]tack.Status{
		{tack.StatusPinned},
		{tack.StatusPinned, tack.StatusFailed},
	} {
		f := tack.PinFilter{AccountID: 1, Statuses: statuses, Limit: 1000}
		where, args, err := pinWhere(f)
		if err != nil {
			t.Fatal(err)
		}
		q, args, err := pinList(f, where, args, 1000)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := db.db.QueryContext(t.Context(), "EXPLAIN "+q, args...)
		if err != nil {
			t.Fatalf("EXPLAIN %s: %v", q, err)
		}
		var ops []string
		for rows.Next() {
			var addr int
			var op string
			var p1, p2, p3, p4, p5, comment any
			if err := rows.Scan(&addr, &op, &p1, &p2, &p3, &p4, &p5, &comment); err != nil {
				t.Fatal(err)
			}
			ops = append(ops, op)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		// concat_ws, char and octet_length for the failed requests, none
		// for the pinned.
		want := 3 * (len(statuses) - 1)
		if got := countOps(ops, "Function", "PureFunc"); got != want {
			t.Errorf("%v: %d function calls in the program, want %d: %v", statuses, got, want, ops)
		}
		if slices.Contains(ops, "SeekRowid") || slices.Contains(ops, "NotExists") {
			t.Errorf("%v: the program reads the table: %v", statuses, ops)
		}
	}
}

func countOps(ops []string, names ...string) int {
	n := 0
	for _, op := range ops {
		if slices.Contains(names, op) {
			n++
		}
	}
	return n
}
