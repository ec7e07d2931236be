// Package sqlrow reads the rows of tack's tables as both SQL stores, sqlite
// and postgres, lay them out: the same columns, times as microseconds
// since the epoch (tack.Micros, 0 for none), lists and maps as JSON text.
// Each Scan function reads one row of its table's Columns, in their order,
// through any driver's row (database/sql's and pgx's alike); the SQL that
// selects them stays in each store.
package sqlrow

import (
	"encoding/json"
	"fmt"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/blockstore"
)

// Scanner is one row of a query's result, as database/sql's *Row and
// *Rows and pgx's Row are.
type Scanner interface{ Scan(dest ...any) error }

// AccountColumns are the columns of an account that ScanAccount reads.
const AccountColumns = `id, email, admin, access, created, blocked, password, max_pending, max_bytes`

// ScanAccount reads an account's AccountColumns.
func ScanAccount(row Scanner) (*tack.Account, error) {
	var a tack.Account
	var access string
	var created int64
	if err := row.Scan(&a.ID, &a.Email, &a.Admin, &access, &created, &a.Blocked, &a.PasswordHash, &a.MaxPending, &a.MaxBytes); err != nil {
		return nil, err
	}
	a.Access, a.Created = tack.Access(access), tack.TimeOfMicros(created)
	return &a, nil
}

// AccessRequestColumns, from AccessRequestFrom, are the columns of an
// access request that ScanAccessRequest reads.
const AccessRequestColumns = `r.account_id, a.email, r.what, r.volume, r.cids, r.requested, r.message, r.decided`

// AccessRequestFrom joins each access request to its account, for the
// email.
const AccessRequestFrom = `access_requests r JOIN accounts a ON a.id = r.account_id`

// ScanAccessRequest reads an access request's AccessRequestColumns.
func ScanAccessRequest(row Scanner) (*tack.AccessRequest, error) {
	var r tack.AccessRequest
	var cids string
	var requested, decided int64
	if err := row.Scan(&r.AccountID, &r.Email, &r.What, &r.Volume, &cids, &requested, &r.Message, &decided); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(cids), &r.CIDs); err != nil {
		return nil, fmt.Errorf("access request of account %d: cids: %w", r.AccountID, err)
	}
	r.Requested, r.Decided = tack.TimeOfMicros(requested), tack.TimeOfMicros(decided)
	return &r, nil
}

// TokenColumns are the columns of a token that ScanToken reads.
const TokenColumns = `id, account_id, name, created, last_used, revoked, scope`

// ScanToken reads a token's TokenColumns.
func ScanToken(row Scanner) (*tack.Token, error) {
	var t tack.Token
	var created, lastUsed, revoked int64
	var scope string
	if err := row.Scan(&t.ID, &t.AccountID, &t.Name, &created, &lastUsed, &revoked, &scope); err != nil {
		return nil, err
	}
	t.Scope = tack.Scope(scope)
	t.Created, t.LastUsed, t.Revoked = tack.TimeOfMicros(created), tack.TimeOfMicros(lastUsed), tack.TimeOfMicros(revoked)
	return &t, nil
}

// InviteColumns are the columns of an invitation that ScanInvite reads.
const InviteColumns = `id, created_by, created, expires, used_by, used`

// ScanInvite reads an invitation's InviteColumns.
func ScanInvite(row Scanner) (*tack.Invite, error) {
	var i tack.Invite
	var created, expires, used int64
	if err := row.Scan(&i.ID, &i.CreatedBy, &created, &expires, &i.UsedBy, &used); err != nil {
		return nil, err
	}
	i.Created, i.Expires, i.Used = tack.TimeOfMicros(created), tack.TimeOfMicros(expires), tack.TimeOfMicros(used)
	return &i, nil
}

// ScanNode reads a node's id, addrs (as JSON text), blocks, started,
// seen and collection.
func ScanNode(row Scanner) (*tack.Node, error) {
	var n tack.Node
	var addrs string
	var started, seen int64
	if err := row.Scan(&n.ID, &addrs, &n.Blocks, &started, &seen, &n.Collection); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(addrs), &n.Addrs); err != nil {
		return nil, fmt.Errorf("node %s: addresses: %w", n.ID, err)
	}
	n.Started, n.Seen = tack.TimeOfMicros(started), tack.TimeOfMicros(seen)
	return &n, nil
}

// ScanDAG reads a DAG record's key, blocks and bytes.
func ScanDAG(row Scanner) (*tack.DAG, error) {
	var d tack.DAG
	err := row.Scan(&d.Key, &d.Blocks, &d.Bytes)
	return &d, err
}

// PinColumns are the columns of a pin request that ScanPin reads.
const PinColumns = `id, account_id, cid, key, name, origins, meta, status, created, details, blocks, bytes,
	attempts, retry_at, progress_at, turn`

// ScanPin reads a pin request's PinColumns. A negative retry_at is a
// held request (Held), whose RetryAt stays zero.
func ScanPin(row Scanner) (*tack.PinRequest, error) {
	// The columns that need converting are scanned into one allocation
	// with the request, rather than one each (Scan's pointers escape).
	s := &struct {
		r                            tack.PinRequest
		origins, meta, status        string
		created, retryAt, progressAt int64
	}{}
	r := &s.r
	if err := row.Scan(&r.ID, &r.AccountID, &r.Pin.CID, &r.Key, &r.Pin.Name, &s.origins, &s.meta,
		&s.status, &s.created, &r.Details, &r.Blocks, &r.Bytes, &r.Attempts, &s.retryAt, &s.progressAt, &r.Turn); err != nil {
		return nil, err
	}
	if err := SetPinColumns(r, s.origins, s.meta, s.status, s.created, s.retryAt, s.progressAt); err != nil {
		return nil, err
	}
	return r, nil
}

// SetPinColumns sets the fields of r that ScanPin converts from their
// columns: origins and meta (JSON text; the strings read are substrings
// of it), status, created, retry_at (negative for a held request, whose
// RetryAt stays zero) and progress_at. r.ID names the request in errors.
func SetPinColumns(r *tack.PinRequest, origins, meta, status string, created, retryAt, progressAt int64) error {
	r.ProgressAt = tack.TimeOfMicros(progressAt)
	if retryAt < 0 {
		r.Held = true
	} else {
		r.RetryAt = tack.TimeOfMicros(retryAt)
	}
	if err := unmarshalStrings(origins, &r.Pin.Origins); err != nil {
		return fmt.Errorf("pin %s: origins: %w", r.ID, err)
	}
	if err := unmarshalStringMap(meta, &r.Pin.Meta); err != nil {
		return fmt.Errorf("pin %s: meta: %w", r.ID, err)
	}
	r.Status, r.Created = tack.Status(status), tack.TimeOfMicros(created)
	return nil
}

// QueuedPinColumns, from pins p joined to their accounts a, are the
// columns of a queued request that ScanQueuedPin reads, for the queue's
// rules (tack.Claimable, tack.ReadyDue, tack.Requeue).
const QueuedPinColumns = `p.id, p.account_id, p.turn, a.blocked`

// ScanQueuedPin reads a request's QueuedPinColumns.
func ScanQueuedPin(row Scanner) (tack.QueuedPin, error) {
	var p tack.QueuedPin
	err := row.Scan(&p.ID, &p.AccountID, &p.Turn, &p.Blocked)
	return p, err
}

// PackEntryColumns, from PackEntryFrom, are the columns of a pack index
// entry that ScanPackEntry reads.
const PackEntryColumns = `b.hash, p.name, b.off, b.len`

// PackEntryFrom joins each entry to its pack, for the pack's name.
const PackEntryFrom = `pack_blocks b JOIN packs p ON p.id = b.pack`

// ScanPackEntry reads a pack index entry's PackEntryColumns.
func ScanPackEntry(row Scanner) (blockstore.PackEntry, error) {
	var e blockstore.PackEntry
	err := row.Scan(&e.Hash, &e.Pack, &e.Offset, &e.Length)
	return e, err
}

// ScanPackUsage reads a pack's name, size, live blocks and live bytes.
func ScanPackUsage(row Scanner) (blockstore.PackUsage, error) {
	var u blockstore.PackUsage
	err := row.Scan(&u.Name, &u.Size, &u.LiveBlocks, &u.LiveBytes)
	return u, err
}

// ScanCopyRow reads a row of t's columns, for copying a store
// (tack.Exporter), into values of the columns' kinds: int64, string
// (text and JSON), bool, *int64 or []byte.
func ScanCopyRow(t tack.CopyTable, row Scanner) ([]any, error) {
	dest := make([]any, len(t.Columns))
	for i, c := range t.Columns {
		switch c.Kind {
		case tack.CopyInt:
			dest[i] = new(int64)
		case tack.CopyText, tack.CopyJSON:
			dest[i] = new(string)
		case tack.CopyBool:
			dest[i] = new(bool)
		case tack.CopyNullInt:
			dest[i] = new(*int64)
		case tack.CopyBytes:
			dest[i] = new([]byte)
		}
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	out := make([]any, len(dest))
	for i, d := range dest {
		switch d := d.(type) {
		case *int64:
			out[i] = *d
		case *string:
			out[i] = *d
		case *bool:
			out[i] = *d
		case **int64:
			out[i] = *d
		case *[]byte:
			out[i] = *d
		}
	}
	return out, nil
}

// SessionColumns are the columns of a session that ScanSession reads.
const SessionColumns = `id, account_id, created, expires`

// ScanSession reads a session's SessionColumns.
func ScanSession(row Scanner) (*tack.Session, error) {
	var s tack.Session
	var created, expires int64
	if err := row.Scan(&s.ID, &s.AccountID, &created, &expires); err != nil {
		return nil, err
	}
	s.Created, s.Expires = tack.TimeOfMicros(created), tack.TimeOfMicros(expires)
	return &s, nil
}

// PasswordResetColumns are the columns of a password reset link that
// ScanPasswordReset reads.
const PasswordResetColumns = `id, account_id, created_by, created, expires`

// ScanPasswordReset reads a password reset link's PasswordResetColumns.
func ScanPasswordReset(row Scanner) (*tack.PasswordReset, error) {
	var r tack.PasswordReset
	var created, expires int64
	if err := row.Scan(&r.ID, &r.AccountID, &r.CreatedBy, &created, &expires); err != nil {
		return nil, err
	}
	r.Created, r.Expires = tack.TimeOfMicros(created), tack.TimeOfMicros(expires)
	return &r, nil
}

// CollectionColumns are the columns of a collection that ScanCollection
// reads.
const CollectionColumns = `epoch, node, started, until`

// ScanCollection reads a collection's CollectionColumns.
func ScanCollection(row Scanner) (*tack.Collection, error) {
	var c tack.Collection
	var started, until int64
	if err := row.Scan(&c.Epoch, &c.Node, &started, &until); err != nil {
		return nil, err
	}
	c.Started, c.Until = tack.TimeOfMicros(started), tack.TimeOfMicros(until)
	return &c, nil
}

// KeptUploadColumns are the columns, grouped by key, of an upload's
// kept blocks that ScanKeptUpload reads.
const KeptUploadColumns = `key, max(added)`

// ScanKeptUpload reads a kept upload's KeptUploadColumns.
func ScanKeptUpload(row Scanner) (tack.KeptUpload, error) {
	var k tack.KeptUpload
	var added int64
	err := row.Scan(&k.Key, &added)
	k.Added = tack.TimeOfMicros(added)
	return k, err
}

// PinCountColumns are the columns of the pin_counts counters that
// ScanPinCount reads, and AccountBytesColumns those of an account's byte
// counters that ScanAccountBytes reads. Each scan adds its row to
// usages.
const (
	PinCountColumns     = `account_id, status, n`
	AccountBytesColumns = `id, stored_bytes, kept_bytes`
)

// ScanPinCount adds a row of PinCountColumns to usages.
func ScanPinCount(usages tack.Usages) func(Scanner) (struct{}, error) {
	return func(row Scanner) (struct{}, error) {
		var id int64
		var status string
		var n int
		if err := row.Scan(&id, &status, &n); err != nil {
			return struct{}{}, err
		}
		usages.Of(id).Pins[tack.Status(status)] = n
		return struct{}{}, nil
	}
}

// ScanAccountBytes adds a row of AccountBytesColumns to usages.
func ScanAccountBytes(usages tack.Usages) func(Scanner) (struct{}, error) {
	return func(row Scanner) (struct{}, error) {
		var id, bytes, kept int64
		if err := row.Scan(&id, &bytes, &kept); err != nil {
			return struct{}{}, err
		}
		usages.Of(id).Bytes, usages.Of(id).Kept = bytes, kept
		return struct{}{}, nil
	}
}

// Rows is a query's result, as database/sql's *Rows and pgx's Rows are.
type Rows interface {
	Scanner
	Next() bool
	Err() error
}

// Each scans every row of rows with scan and hands it to fn, stopping at
// the first error. The caller closes rows.
func Each[T any](rows Rows, scan func(Scanner) (T, error), fn func(T) error) error {
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return err
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return rows.Err()
}
