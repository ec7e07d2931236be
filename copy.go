package tack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
)

// Copying a store: `tack store copy` moves every row of one store into
// another of another kind (SQLite into PostgreSQL) as it is stored, ids,
// times and queue state included, so that request ids, tokens and
// sessions stay valid. Both stores keep CopyTables with these columns;
// what derives from them (counters, sequences) the importing store
// computes itself.

// CopyKind is the type of a copied column's values.
type CopyKind int

// The kinds of copied values, as Go values in rows.
const (
	CopyInt     CopyKind = iota // int64
	CopyText                    // string
	CopyBool                    // bool
	CopyNullInt                 // *int64, nil for NULL
	CopyJSON                    // string holding JSON
	CopyBytes                   // []byte
)

// CopyColumn is one column of a copied table.
type CopyColumn struct {
	Name string
	Kind CopyKind
}

// CopyTable is a table that a copy moves: its rows are identified by the
// first column.
type CopyTable struct {
	Name    string
	Columns []CopyColumn
}

// CopyTables are the tables a copy moves, in an order that keeps foreign
// keys: accounts before what belongs to them.
var CopyTables = []CopyTable{
	{"accounts", []CopyColumn{{"id", CopyInt}, {"email", CopyText}, {"admin", CopyBool}, {"access", CopyText},
		{"created", CopyInt}, {"blocked", CopyBool}, {"password", CopyText}, {"last_created", CopyInt},
		{"last_turn", CopyInt}, {"max_pending", CopyNullInt}, {"max_bytes", CopyNullInt}}},
	{"access_requests", []CopyColumn{{"account_id", CopyInt}, {"what", CopyText}, {"volume", CopyText},
		{"cids", CopyText}, {"requested", CopyInt}, {"message", CopyText}, {"decided", CopyInt}}},
	{"tokens", []CopyColumn{{"id", CopyText}, {"account_id", CopyInt}, {"name", CopyText}, {"created", CopyInt},
		{"last_used", CopyInt}, {"revoked", CopyInt}, {"scope", CopyText}}},
	{"secrets", []CopyColumn{{"name", CopyText}, {"value", CopyBytes}, {"created", CopyInt}}},
	{"sessions", []CopyColumn{{"id", CopyText}, {"account_id", CopyInt}, {"created", CopyInt}, {"expires", CopyInt}}},
	{"invites", []CopyColumn{{"id", CopyText}, {"created_by", CopyInt}, {"created", CopyInt}, {"expires", CopyInt},
		{"used_by", CopyInt}, {"used", CopyInt}}},
	{"password_resets", []CopyColumn{{"id", CopyText}, {"account_id", CopyInt}, {"created_by", CopyInt},
		{"created", CopyInt}, {"expires", CopyInt}}},
	{"dags", []CopyColumn{{"key", CopyText}, {"blocks", CopyInt}, {"bytes", CopyInt}}},
	{"pins", []CopyColumn{{"id", CopyText}, {"account_id", CopyInt}, {"cid", CopyText}, {"key", CopyText},
		{"name", CopyText}, {"name_lower", CopyText}, {"origins", CopyText}, {"meta", CopyJSON}, {"status", CopyText},
		{"created", CopyInt}, {"details", CopyText}, {"blocks", CopyInt}, {"bytes", CopyInt},
		{"lease_owner", CopyText}, {"lease_until", CopyInt}, {"turn", CopyInt}, {"retry_at", CopyInt},
		{"attempts", CopyInt}, {"progress_at", CopyInt}, {"prev_key", CopyText}}},
	// Uploads' keep lists, and the S3 blockstore's pack index: without
	// them, blocks in the bucket would be unreachable.
	{"upload_keeps", []CopyColumn{{"id", CopyInt}, {"key", CopyText}, {"hash", CopyInt}, {"added", CopyInt},
		{"account_id", CopyInt}, {"size", CopyInt}}},
	{"packs", []CopyColumn{{"id", CopyInt}, {"name", CopyText}, {"size", CopyInt}, {"created", CopyInt}}},
	{"pack_blocks", []CopyColumn{{"hash", CopyBytes}, {"pack", CopyInt}, {"off", CopyInt}, {"len", CopyInt}, {"seq", CopyInt}}},
	// One row, which every store has from its first migration: imported
	// over the target's.
	{"queue_state", []CopyColumn{{"id", CopyInt}, {"vtime", CopyInt}}},
}

// Exporter is a store whose rows can be copied out.
type Exporter interface {
	// ExportRows calls fn with each row of t, in the order of its first
	// column, values in the order of t.Columns. fn must not keep row.
	ExportRows(ctx context.Context, t CopyTable, fn func(row []any) error) error

	// CountRows returns how many rows t holds.
	CountRows(ctx context.Context, t CopyTable) (int64, error)

	// SampleRows returns up to n rows of t chosen at random.
	SampleRows(ctx context.Context, t CopyTable, n int) ([][]any, error)

	// FindRows returns the rows of t whose first column is one of ids, in
	// any order.
	FindRows(ctx context.Context, t CopyTable, ids []any) ([][]any, error)
}

// Importer is a store that rows can be copied into.
type Importer interface {
	Exporter

	// Import runs fn in one transaction: the rows fn stores with put are
	// committed together, with what derives from them (counters,
	// sequences), or not at all. put takes rows of one table as
	// ExportRows gives them, tables in CopyTables order.
	Import(ctx context.Context, fn func(put func(t CopyTable, rows [][]any) error) error) error
}

// copyBatch is how many rows CopyRows hands the target at a time (one
// COPY into PostgreSQL).
const copyBatch = 10_000

// CopyRows copies every row of src into dst, which must be empty, in one
// transaction, and says how many rows of each table it copied to out.
func CopyRows(ctx context.Context, src Exporter, dst Importer, out io.Writer) error {
	for _, t := range CopyTables {
		if t.Name == "queue_state" {
			continue
		}
		n, err := dst.CountRows(ctx, t)
		if err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("the target store is not empty (%s has %d rows): tack copies only into an empty store", t.Name, n)
		}
	}
	err := dst.Import(ctx, func(put func(CopyTable, [][]any) error) error {
		for _, t := range CopyTables {
			var batch [][]any
			n := 0
			err := src.ExportRows(ctx, t, func(row []any) error {
				batch = append(batch, slices.Clone(row))
				if len(batch) < copyBatch {
					return nil
				}
				n += len(batch)
				err := put(t, batch)
				batch = batch[:0]
				return err
			})
			if err == nil && len(batch) > 0 {
				n += len(batch)
				err = put(t, batch)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "copied %s: %d rows\n", t.Name, n)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("copy (nothing was committed): %w", err)
	}
	return nil
}

// VerifyCopy compares the two stores, saying what it checked to out: the
// rows of each table counted, sample rows of each (chosen at random)
// compared field by field, and, if both are AccountStores, the usage of
// every account, which the target computed from the rows it was given.
// It returns an error if they differ.
func VerifyCopy(ctx context.Context, src, dst Exporter, sample int, out io.Writer) error {
	var problems []string
	for _, t := range CopyTables {
		ns, err := src.CountRows(ctx, t)
		if err != nil {
			return err
		}
		nd, err := dst.CountRows(ctx, t)
		if err != nil {
			return err
		}
		if ns != nd {
			problems = append(problems, fmt.Sprintf("%s: %d rows in the source, %d in the target", t.Name, ns, nd))
			continue
		}
		rows, err := src.SampleRows(ctx, t, sample)
		if err != nil {
			return err
		}
		ids := make([]any, len(rows))
		for i, r := range rows {
			ids[i] = r[0]
		}
		found, err := dst.FindRows(ctx, t, ids)
		if err != nil {
			return err
		}
		byID := map[any][]any{}
		for _, r := range found {
			byID[rowID(r[0])] = r
		}
		bad := 0
		for _, r := range rows {
			got, ok := byID[rowID(r[0])]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s %v: missing in the target", t.Name, r[0]))
				bad++
				continue
			}
			for j, c := range t.Columns {
				if !sameValue(c.Kind, r[j], got[j]) {
					problems = append(problems, fmt.Sprintf("%s %v: %s is %v in the source, %v in the target", t.Name, r[0], c.Name, showValue(r[j]), showValue(got[j])))
					bad++
				}
			}
		}
		fmt.Fprintf(out, "checked %s: %d rows in both; %d sampled rows compared field by field, %d differences\n", t.Name, ns, len(rows), bad)
	}
	if s, ok := src.(AccountStore); ok {
		if d, ok := dst.(AccountStore); ok {
			us, err := s.FindUsages(ctx)
			if err != nil {
				return err
			}
			ud, err := d.FindUsages(ctx)
			if err != nil {
				return err
			}
			same := len(us) == len(ud)
			for _, id := range slices.Sorted(maps.Keys(us)) {
				if u := ud[id]; u == nil || !reflect.DeepEqual(*u, *us[id]) {
					problems = append(problems, fmt.Sprintf("account %d: usage %+v in the source, %+v in the target", id, us[id], u))
					same = false
				}
			}
			fmt.Fprintf(out, "checked usage (requests per status, stored bytes) of %d accounts: same %v\n", len(us), same)
		}
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(out, "DIFFERENT:", p)
		}
		return fmt.Errorf("the copy differs from the source in %d places", len(problems))
	}
	fmt.Fprintln(out, "the copy matches the source")
	return nil
}

// rowID is a row's first column as a map key: bytes (a multihash) as a
// string.
func rowID(v any) any {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return v
}

// sameValue compares two values of a column of kind k: JSON by what it
// encodes, the rest as they are.
func sameValue(k CopyKind, a, b any) bool {
	switch k {
	case CopyJSON:
		var va, vb any
		ea := json.Unmarshal([]byte(a.(string)), &va)
		eb := json.Unmarshal([]byte(b.(string)), &vb)
		return ea == nil && eb == nil && reflect.DeepEqual(va, vb)
	case CopyBytes:
		return bytes.Equal(a.([]byte), b.([]byte))
	case CopyNullInt:
		pa, pb := a.(*int64), b.(*int64)
		return (pa == nil) == (pb == nil) && (pa == nil || *pa == *pb)
	}
	return a == b
}

// showValue prints a value, NULL for a nil *int64.
func showValue(v any) string {
	if p, ok := v.(*int64); ok {
		if p == nil {
			return "NULL"
		}
		return fmt.Sprint(*p)
	}
	return fmt.Sprintf("%q", fmt.Sprint(v))
}
