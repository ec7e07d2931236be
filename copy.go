package tack

import "context"

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
		{"last_used", CopyInt}, {"revoked", CopyInt}}},
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
