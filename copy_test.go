package tack_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tack-ipfs/tack"
)

// memCopy is a store of copied rows in memory, by table, each row's first
// column its id. ExportRows hands out one reused slice, as a store's scan
// does.
type memCopy struct {
	rows    map[string][][]any
	puts    int   // calls of Import's put
	failPut error // if not nil, put fails with it
}

func (m *memCopy) ExportRows(ctx context.Context, t tack.CopyTable, fn func(row []any) error) error {
	buf := make([]any, len(t.Columns))
	for _, r := range m.rows[t.Name] {
		copy(buf, r)
		if err := fn(buf); err != nil {
			return err
		}
	}
	return nil
}

func (m *memCopy) CountRows(ctx context.Context, t tack.CopyTable) (int64, error) {
	return int64(len(m.rows[t.Name])), nil
}

func (m *memCopy) SampleRows(ctx context.Context, t tack.CopyTable, n int) ([][]any, error) {
	return m.rows[t.Name][:min(n, len(m.rows[t.Name]))], nil
}

func (m *memCopy) FindRows(ctx context.Context, t tack.CopyTable, ids []any) ([][]any, error) {
	want := map[string]bool{}
	for _, id := range ids {
		want[fmt.Sprint(id)] = true
	}
	var out [][]any
	for _, r := range m.rows[t.Name] {
		if want[fmt.Sprint(r[0])] {
			out = append(out, r)
		}
	}
	return out, nil
}

func (m *memCopy) Import(ctx context.Context, fn func(put func(t tack.CopyTable, rows [][]any) error) error) error {
	staged := map[string][][]any{}
	err := fn(func(t tack.CopyTable, rows [][]any) error {
		m.puts++
		if m.failPut != nil {
			return m.failPut
		}
		staged[t.Name] = append(staged[t.Name], rows...)
		return nil
	})
	if err != nil {
		return err
	}
	if m.rows == nil {
		m.rows = map[string][][]any{}
	}
	for k, v := range staged {
		m.rows[k] = append(m.rows[k], v...)
	}
	return nil
}

// table returns the copied table named name.
func table(t *testing.T, name string) tack.CopyTable {
	for _, ct := range tack.CopyTables {
		if ct.Name == name {
			return ct
		}
	}
	t.Fatalf("no copied table %s", name)
	return tack.CopyTable{}
}

// newSource returns a store with an account of every kind of value, a pin
// with meta, and 25,000 pack entries: three batches.
func newSource(t *testing.T) *memCopy {
	limit := int64(5)
	src := &memCopy{rows: map[string][][]any{
		"accounts": {
			{int64(1), "a@example.com", true, "approved", int64(10), false, "hash", int64(0), int64(0), &limit, (*int64)(nil)},
			{int64(2), "b@example.com", false, "none", int64(11), true, "", int64(0), int64(0), (*int64)(nil), (*int64)(nil)},
		},
		"pins": {
			{"r1", int64(1), "bafy", "k", "name", "name", "[]", `{"a":"1","b":"2"}`, "pinned", int64(12), "", int64(1), int64(2),
				"", int64(0), int64(0), int64(0), int64(0), int64(0), ""},
		},
		"queue_state": {{int64(1), int64(99)}},
	}}
	for i := range 25_000 {
		src.rows["pack_blocks"] = append(src.rows["pack_blocks"], []any{[]byte(fmt.Sprint("hash", i)), int64(1), int64(i), int64(1), int64(i)})
	}
	for _, name := range []string{"accounts", "pins", "pack_blocks", "queue_state"} {
		if n := len(table(t, name).Columns); n != len(src.rows[name][0]) {
			t.Fatalf("%s has %d columns, the test's rows %d", name, n, len(src.rows[name][0]))
		}
	}
	return src
}

// CopyRows copies every row as it is, in batches, into an empty target,
// and VerifyCopy then finds the copy the same; the target's own
// queue_state row does not make it count as not empty.
func TestCopyRows(t *testing.T) {
	ctx := context.Background()
	src := newSource(t)
	dst := &memCopy{rows: map[string][][]any{"queue_state": {{int64(1), int64(0)}}}}
	var out strings.Builder
	if err := tack.CopyRows(ctx, src, dst, &out); err != nil {
		t.Fatal(err)
	}
	dst.rows["queue_state"] = dst.rows["queue_state"][1:] // the import replaces the target's row
	for _, want := range []string{"copied accounts: 2 rows\n", "copied pins: 1 rows\n", "copied pack_blocks: 25000 rows\n", "copied tokens: 0 rows\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if dst.puts != 6 { // accounts, pins, queue_state, and pack_blocks in three
		t.Errorf("%d puts, want 6", dst.puts)
	}
	for name, rows := range src.rows {
		for i, r := range rows {
			if got := fmt.Sprint(dst.rows[name][i]); got != fmt.Sprint(r) {
				t.Fatalf("%s row %d: %s in the target, %s in the source", name, i, got, fmt.Sprint(r))
			}
		}
	}
	out.Reset()
	if err := tack.VerifyCopy(ctx, src, dst, 100, &out); err != nil || !strings.Contains(out.String(), "the copy matches the source") {
		t.Errorf("VerifyCopy: %v\n%s", err, out.String())
	}

	if err := tack.CopyRows(ctx, src, dst, &out); err == nil || !strings.Contains(err.Error(), "not empty (accounts has 2 rows)") {
		t.Errorf("a copy into a store that is not empty: %v", err)
	}
	failing := &memCopy{failPut: errors.New("disk full")}
	if err := tack.CopyRows(ctx, src, failing, &out); err == nil || !strings.Contains(err.Error(), "nothing was committed") || len(failing.rows) != 0 {
		t.Errorf("a copy whose put fails: %v, %d tables committed", err, len(failing.rows))
	}
}

// VerifyCopy names every difference: a table with fewer rows, a field
// that differs, a row that is missing; JSON is compared by what it
// encodes, NULL and bytes by value.
func TestVerifyCopy(t *testing.T) {
	ctx := context.Background()
	src := newSource(t)
	dst := &memCopy{}
	var out strings.Builder
	if err := tack.CopyRows(ctx, src, dst, &out); err != nil {
		t.Fatal(err)
	}
	limit := int64(5)
	// The same values, written otherwise.
	dst.rows["accounts"][0][9] = &limit
	dst.rows["pins"][0] = append([]any(nil), dst.rows["pins"][0]...)
	dst.rows["pins"][0][7] = `{"b": "2", "a": "1"}`
	out.Reset()
	if err := tack.VerifyCopy(ctx, src, dst, 100, &out); err != nil {
		t.Fatalf("VerifyCopy of equal values written otherwise: %v\n%s", err, out.String())
	}

	other := int64(6)
	dst.rows["accounts"][1] = append([]any(nil), dst.rows["accounts"][1]...)
	dst.rows["accounts"][1][9] = &other // NULL in the source
	dst.rows["pack_blocks"] = dst.rows["pack_blocks"][1:]
	dst.rows["pins"][0][0] = "r2"
	out.Reset()
	err := tack.VerifyCopy(ctx, src, dst, 100, &out)
	if err == nil || err.Error() != "the copy differs from the source in 3 places" {
		t.Errorf("VerifyCopy: %v, want 3 differences", err)
	}
	for _, want := range []string{
		"DIFFERENT: accounts 2: max_pending is NULL in the source, 6 in the target",
		"DIFFERENT: pack_blocks: 25000 rows in the source, 24999 in the target",
		"DIFFERENT: pins r1: missing in the target",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
