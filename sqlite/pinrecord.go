package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/internal/sqlrow"
)

// A listing reads each request as one text column, pinRecord, rather than
// sqlrow.PinColumns' sixteen. The driver copies each text column into a
// string of its own and boxes every value it returns (a string, or an
// int64 over 255) for database/sql, which then converts each into Scan's
// pointers: about 20 allocations and a fifth of a page's CPU, where one
// column costs one copy and one box. The fields are substrings of it.
//
// The fields are joined by the unit separator (0x1f), which none of the
// fields before the name can hold: IDs, CIDs, keys and statuses are ASCII
// letters, digits and dashes, the numbers are decimal, and origins and
// meta are JSON, where a control byte is escaped. The name and details
// may hold any byte: the name is read by its length in bytes, which comes
// before it, and details is the rest.
//
// pins_pinned_list_idx (migration 0012) holds this expression for each
// pinned request, which a listing then reads from the index alone: the
// two must stay the same (TestPinnedListFromIndex).
const pinRecord = `concat_ws(char(31), id, account_id, cid, key, origins, meta, status, created,
	blocks, bytes, attempts, retry_at, progress_at, turn, octet_length(name), name, details)`

// pinRecordFields is how many fields come before the name in pinRecord.
const pinRecordFields = 15

// queryPinRecords runs query, which returns at most limit pinRecords,
// through tx and parses each into a request, the same ScanPin reads from
// sqlrow.PinColumns. It returns an empty slice, not nil, for no rows.
func queryPinRecords(ctx context.Context, tx *txn, limit int, query string, args ...any) ([]*tack.PinRequest, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	// One destination for every row: Scan's arguments escape.
	var rec string
	dest := []any{&rec}
	out := make([]*tack.PinRequest, 0, min(limit, tack.MaxListLimit))
	// The requests are allocated a slab at a time rather than one by one.
	var slab []tack.PinRequest
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, unavailable(err)
		}
		if len(slab) == 0 {
			slab = make([]tack.PinRequest, max(min(limit-len(out), pinSlab), 1))
		}
		r := &slab[0]
		slab = slab[1:]
		if err := parsePinRecord(rec, r); err != nil {
			return nil, fmt.Errorf("a pin request's record: %w", err)
		}
		out = append(out, r)
	}
	return out, unavailable(rows.Err())
}

// pinSlab is how many requests queryPinRecords allocates at once.
const pinSlab = 64

// parsePinRecord parses a pinRecord into r, which is zero.
func parsePinRecord(rec string, r *tack.PinRequest) error {
	var f [pinRecordFields]string
	rest := rec
	for i := range f {
		j := strings.IndexByte(rest, '\x1f')
		if j < 0 {
			return errors.New("too few fields")
		}
		f[i], rest = rest[:j], rest[j+1:]
	}
	// account_id, then created … turn and the name's length.
	var n [1 + pinRecordFields - 7]int64
	for i := range n {
		j := i + 6
		if i == 0 {
			j = 1
		}
		v, ok := parseInt(f[j])
		if !ok {
			return fmt.Errorf("not an integer: %q", f[j])
		}
		n[i] = v
	}
	nameLen := n[8]
	if nameLen < 0 || nameLen >= int64(len(rest)) || rest[nameLen] != '\x1f' {
		return errors.New("a name longer than the record")
	}
	r.ID, r.AccountID, r.Key, r.Details = f[0], n[0], f[3], rest[nameLen+1:]
	r.Blocks, r.Bytes, r.Attempts, r.Turn = n[2], n[3], int(n[4]), n[7]
	r.Pin.CID, r.Pin.Name = f[2], rest[:nameLen]
	return sqlrow.SetPinColumns(r, f[4], f[5], f[6], n[1], n[5], n[6])
}

// parseInt parses a decimal integer as SQLite writes one: an optional
// minus sign and digits. strconv.ParseInt, which reads every form Go
// knows, took a quarter of parsePinRecord's time.
func parseInt(s string) (int64, bool) {
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	if len(s) == 0 || len(s) > 19 {
		return 0, false
	}
	var u uint64
	for i := 0; i < len(s); i++ {
		c := s[i] - '0'
		if c > 9 {
			return 0, false
		}
		u = u*10 + uint64(c)
	}
	// 19 digits fit in a uint64; the int64 range is asymmetric.
	switch {
	case neg && u <= 1<<63:
		return -int64(u), true
	case !neg && u < 1<<63:
		return int64(u), true
	}
	return 0, false
}
