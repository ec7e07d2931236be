package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, unavailable(err)
		}
		r, err := parsePinRecord(rec)
		if err != nil {
			return nil, fmt.Errorf("a pin request's record: %w", err)
		}
		out = append(out, r)
	}
	return out, unavailable(rows.Err())
}

// parsePinRecord parses a pinRecord.
func parsePinRecord(rec string) (*tack.PinRequest, error) {
	var f [pinRecordFields]string
	rest := rec
	for i := range f {
		var ok bool
		if f[i], rest, ok = strings.Cut(rest, "\x1f"); !ok {
			return nil, errors.New("too few fields")
		}
	}
	// account_id, then created … turn and the name's length.
	var n [1 + pinRecordFields - 7]int64
	for i := range n {
		j := i + 6
		if i == 0 {
			j = 1
		}
		v, err := strconv.ParseInt(f[j], 10, 64)
		if err != nil {
			return nil, err
		}
		n[i] = v
	}
	nameLen := n[8]
	if nameLen < 0 || nameLen >= int64(len(rest)) || rest[nameLen] != '\x1f' {
		return nil, errors.New("a name longer than the record")
	}
	r := &tack.PinRequest{
		ID:        f[0],
		AccountID: n[0],
		Key:       f[3],
		Details:   rest[nameLen+1:],
		Blocks:    n[2],
		Bytes:     n[3],
		Attempts:  int(n[4]),
		Turn:      n[7],
	}
	r.Pin.CID, r.Pin.Name = f[2], rest[:nameLen]
	if err := sqlrow.SetPinColumns(r, f[4], f[5], f[6], n[1], n[5], n[6]); err != nil {
		return nil, err
	}
	return r, nil
}
