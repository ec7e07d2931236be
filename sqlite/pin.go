package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/internal/sqlrow"
)

// CreatePin stores a new request, as the tack.PinStore contract says. If
// r.ID is empty a random one is set; an ID that exists is ECONFLICT. An
// empty r.Status means queued. Sets r.ID, r.Created, and, if the DAG is
// already held whole, r.Status, r.Blocks and r.Bytes.
func (db *DB) CreatePin(ctx context.Context, r *tack.PinRequest) error {
	if err := tack.CheckNewPin(r); err != nil {
		return err
	}
	stored := *r
	if stored.ID == "" {
		stored.ID = tack.NewRequestID()
	}
	err := db.write(ctx, func(ctx context.Context, tx *txn) error {
		return db.createPin(ctx, tx, &stored)
	})
	if err != nil {
		return err
	}
	*r = stored
	return nil
}

// ReplacePin stores r as CreatePin does and deletes the account's request
// oldID in the same transaction. Returns ENOTFOUND, storing nothing, if the
// account has no request oldID. r.AccountID is set to accountID.
func (db *DB) ReplacePin(ctx context.Context, accountID int64, oldID string, r *tack.PinRequest) error {
	stored := *r
	stored.AccountID = accountID
	if err := tack.CheckNewPin(&stored); err != nil {
		return err
	}
	if stored.ID == "" {
		stored.ID = tack.NewRequestID()
	}
	err := db.write(ctx, func(ctx context.Context, tx *txn) error {
		// The old DAG's blocks stay while the new one is fetched (see
		// WantedKeys); a failed request's DAG was never held.
		var prevKey string
		err := tx.QueryRowContext(ctx, `
			SELECT key FROM pins WHERE id = ? AND account_id = ? AND status <> 'failed'`, oldID, accountID).Scan(&prevKey)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("find pin: %w", err)
		}
		if err := deletePin(ctx, tx, accountID, oldID); err != nil {
			return err
		}
		if err := db.createPin(ctx, tx, &stored); err != nil {
			return err
		}
		if prevKey != "" && prevKey != stored.Key && stored.Status == tack.StatusQueued {
			if _, err := tx.ExecContext(ctx, `UPDATE pins SET prev_key = ? WHERE id = ?`, prevKey, stored.ID); err != nil {
				return fmt.Errorf("replace pin: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	*r = stored
	return nil
}

// createPin inserts r inside tx, setting r.Created and, if the DAG is held,
// r.Status, r.Blocks and r.Bytes. It admits r by the rules, in the order,
// that the root package's admission.go states.
func (db *DB) createPin(ctx context.Context, tx *txn, r *tack.PinRequest) error {
	// A created time unique for the account: now, or 1µs after the
	// account's last one. The write lock makes this safe against
	// concurrent inserts.
	var last, lastTurn, vtime int64
	var maxPending *int64
	err := tx.QueryRowContext(ctx, `
		SELECT last_created, last_turn, max_pending, (SELECT vtime FROM queue_state)
		FROM accounts WHERE id = ?`, r.AccountID).Scan(&last, &lastTurn, &maxPending, &vtime)
	if errors.Is(err, sql.ErrNoRows) {
		return tack.ErrAccountNotFound()
	} else if err != nil {
		return fmt.Errorf("find account: %w", err)
	}
	created := max(db.now(), last+1)

	status, blocks, bytes, details, turn := r.Status, r.Blocks, r.Bytes, r.Details, int64(0)
	var dagBlocks, dagBytes int64
	err = tx.QueryRowContext(ctx, `SELECT blocks, bytes FROM dags WHERE key = ?`, r.Key).Scan(&dagBlocks, &dagBytes)
	if err == nil {
		// Held whole: pinned at once, if the account has room for it.
		if err := (dagTx{db, tx}).OverQuota(ctx, r.AccountID, r.Key, dagBytes); err != nil {
			return err
		}
		status, blocks, bytes, details = tack.StatusPinned, dagBlocks, dagBytes, ""
	} else if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("find dag: %w", err)
	}
	if status == tack.StatusQueued {
		if limit := tack.Limit(maxPending, db.Limits.MaxPending); limit > 0 {
			pending, err := countPending(ctx, tx, r.AccountID)
			if err != nil {
				return err
			}
			if err := tack.CheckPending(pending, limit); err != nil {
				return err
			}
		}
		// takeTurns' rule, on the account row read above.
		turn = tack.NextTurn(lastTurn, vtime)
		lastTurn = turn
	}
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET last_created = ?, last_turn = ? WHERE id = ?`,
		created, lastTurn, r.AccountID); err != nil {
		return fmt.Errorf("update account: %w", err)
	}

	origins, err := json.Marshal(r.Pin.Origins)
	if err != nil {
		return fmt.Errorf("marshal origins: %w", err)
	}
	meta, err := json.Marshal(r.Pin.Meta)
	if err != nil {
		return fmt.Errorf("marshal meta: %w", err)
	}
	_, err = tx.ExecContext(ctx, `
		INSERT INTO pins (id, account_id, cid, key, name, name_lower, origins, meta,
		                  status, created, details, blocks, bytes, turn, progress_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.AccountID, r.Pin.CID, r.Key, r.Pin.Name, strings.ToLower(r.Pin.Name), string(origins), string(meta),
		string(status), created, details, blocks, bytes, turn, created,
	)
	if isUniqueViolation(err) {
		return tack.ErrIDExists("pin request")
	} else if err != nil {
		return fmt.Errorf("insert pin: %w", err)
	}
	for k, v := range r.Pin.Meta {
		if _, err := tx.ExecContext(ctx, `INSERT INTO pin_meta (pin_id, key, value) VALUES (?, ?, ?)`, r.ID, k, v); err != nil {
			return fmt.Errorf("insert pin meta: %w", err)
		}
	}
	r.Created, r.Status, r.Blocks, r.Bytes, r.Details = timeOf(created), status, blocks, bytes, details
	r.ProgressAt, r.Attempts, r.RetryAt, r.Turn = timeOf(created), 0, time.Time{}, turn
	return nil
}

// countPending returns how many of the account's requests are queued or
// pinning, from the counters that triggers keep.
func countPending(ctx context.Context, tx *txn, accountID int64) (int64, error) {
	var n int64
	err := tx.QueryRowContext(ctx, `
		SELECT coalesce(sum(n), 0) FROM pin_counts
		WHERE account_id = ? AND status IN ('queued', 'pinning')`, accountID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count pending: %w", err)
	}
	return n, nil
}

// PurgePins deletes every request of the account and returns how many
// there were.
func (db *DB) PurgePins(ctx context.Context, accountID int64) (int, error) {
	var n int64
	err := db.write(ctx, func(ctx context.Context, tx *txn) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM pins WHERE account_id = ?`, accountID)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("purge pins: %w", err)
	}
	return int(n), nil
}

// DeletePin deletes the account's request. Returns ENOTFOUND if there is
// none, or if it belongs to another account.
func (db *DB) DeletePin(ctx context.Context, accountID int64, id string) error {
	return db.write(ctx, func(ctx context.Context, tx *txn) error {
		return deletePin(ctx, tx, accountID, id)
	})
}

func deletePin(ctx context.Context, tx *txn, accountID int64, id string) error {
	res, err := tx.ExecContext(ctx, `DELETE FROM pins WHERE id = ? AND account_id = ?`, id, accountID)
	if err != nil {
		return fmt.Errorf("delete pin: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("delete pin: %w", err)
	} else if n == 0 {
		return tack.ErrNotFound("pin request")
	}
	return nil
}

// FindPinByID returns the account's request. Returns ENOTFOUND if there is
// none, or if the request belongs to another account.
func (db *DB) FindPinByID(ctx context.Context, accountID int64, id string) (*tack.PinRequest, error) {
	r, err := sqlrow.ScanPin(db.pool().QueryRowContext(ctx, `
		SELECT `+sqlrow.PinColumns+` FROM pins
		WHERE id = ? AND account_id = ?`, id, accountID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, tack.ErrNotFound("pin request")
	} else if err != nil {
		return nil, fmt.Errorf("find pin: %w", err)
	}
	return r, nil
}

// FindPins returns the matching requests, newest first (created, then ID,
// descending), at most f.Limit of them, and how many match in all. A zero
// Limit means tack.DefaultLimit; a negative one or one over
// tack.MaxListLimit is EINVALID. A nil Name matches any name; an empty
// Match means exact.
func (db *DB) FindPins(ctx context.Context, f tack.PinFilter) ([]*tack.PinRequest, int, error) {
	limit, err := f.ListLimit()
	if err != nil {
		return nil, 0, err
	}
	where, args, err := pinWhere(f)
	if err != nil {
		return nil, 0, err
	}

	list, listArgs, err := pinList(f, where, args, limit)
	if err != nil {
		return nil, 0, err
	}
	var pins []*tack.PinRequest
	var count int
	err = db.read(ctx, func(tx *txn) error {
		if pins, err = queryPinRecords(ctx, tx, limit, list, listArgs...); err != nil {
			return err
		}
		if f.OnlyStatuses() {
			// Kubo's `service ls --stat` asks for this count for each
			// status: the triggers' counters answer it at once.
			return countByStatus(ctx, tx, f.AccountID, f.Statuses, &count)
		}
		return tx.QueryRowContext(ctx, `SELECT count(*) FROM pins WHERE `+where, args...).Scan(&count)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("find pins: %w", err)
	}
	return pins, count, nil
}

// pinList returns the query that lists the newest limit requests that f
// matches (where and args are f's WHERE clause). With a status filter and
// no CID filter, each status is read newest first from the account's index
// of that status, and the lists are merged: a status that the account has
// few requests in costs as little as one it has many in, so Kubo's
// `?status=failed&limit=1` is cheap in an account of a million pins. The
// created times of an account are unique, so they order its requests. The
// query returns each request's pinRecord.
func pinList(f tack.PinFilter, where string, args []any, limit int) (string, []any, error) {
	if len(f.Statuses) == 0 || len(f.Keys) > 0 {
		return `
			SELECT ` + pinRecord + ` FROM pins
			WHERE ` + where + `
			ORDER BY created DESC, id DESC
			LIMIT ?`, append(args, limit), nil
	}
	var parts []string
	var all []any
	statuses := slices.Compact(slices.Sorted(slices.Values(f.Statuses)))
	for _, st := range statuses {
		g := f
		g.Statuses = nil
		w, a, err := pinWhere(g)
		if err != nil {
			return "", nil, err
		}
		// Pinned requests are read from the index that holds their
		// records, which a query uses only if it names the status.
		from := `pins INDEXED BY pins_account_status_idx WHERE ` + w + ` AND status = ?`
		if st == tack.StatusPinned {
			from = `pins INDEXED BY pins_pinned_list_idx WHERE ` + w + ` AND status = 'pinned'`
		} else {
			a = append(a, string(st))
		}
		parts = append(parts, `SELECT * FROM (
			SELECT `+pinRecord+` AS rec, created, id FROM `+from+`
			ORDER BY created DESC
			LIMIT ?)`)
		all = append(append(all, a...), limit)
	}
	if len(statuses) == 1 {
		// One status (the API's default, pinned) is in order as read:
		// sorting its rows again cost a fifth of a page's CPU.
		one := strings.TrimSuffix(strings.TrimPrefix(parts[0], "SELECT * FROM ("), ")")
		return strings.Replace(one, ` AS rec, created, id`, ``, 1), all, nil
	}
	return `SELECT rec FROM (` + strings.Join(parts, " UNION ALL ") + `)
		ORDER BY created DESC, id DESC LIMIT ?`, append(all, limit), nil
}

// countByStatus sets count to how many of the account's requests are in
// one of statuses (any status if none), from pin_counts.
func countByStatus(ctx context.Context, tx *txn, accountID int64, statuses []tack.Status, count *int) error {
	q, args := `SELECT coalesce(sum(n), 0) FROM pin_counts WHERE account_id = ?`, []any{accountID}
	if len(statuses) > 0 {
		distinct := slices.Compact(slices.Sorted(slices.Values(statuses)))
		q += ` AND status IN (` + placeholders(len(distinct)) + `)`
		for _, st := range distinct {
			args = append(args, string(st))
		}
	}
	return tx.QueryRowContext(ctx, q, args...).Scan(count)
}

// pinWhere returns the WHERE clause of f, with its arguments.
func pinWhere(f tack.PinFilter) (string, []any, error) {
	conds := []string{"account_id = ?"}
	args := []any{f.AccountID}

	if len(f.Keys) > 0 {
		conds = append(conds, "key IN ("+placeholders(len(f.Keys))+")")
		for _, k := range f.Keys {
			args = append(args, k)
		}
	}
	if f.Name != nil {
		// Literal comparisons only: user text never reaches LIKE, so % and
		// _ are ordinary characters. Case folding is Go's, on both sides.
		switch f.Match {
		case tack.MatchExact, "":
			conds, args = append(conds, "name = ?"), append(args, *f.Name)
		case tack.MatchIExact:
			conds, args = append(conds, "name_lower = ?"), append(args, strings.ToLower(*f.Name))
		case tack.MatchPartial:
			conds, args = append(conds, "instr(name, ?) > 0"), append(args, *f.Name)
		case tack.MatchIPartial:
			conds, args = append(conds, "instr(name_lower, ?) > 0"), append(args, strings.ToLower(*f.Name))
		default:
			return "", nil, tack.Errorf(tack.EINVALID, "unknown match %q", f.Match)
		}
	}
	if len(f.Statuses) > 0 {
		conds = append(conds, "status IN ("+placeholders(len(f.Statuses))+")")
		for _, s := range f.Statuses {
			args = append(args, string(s))
		}
	}
	if !f.Before.IsZero() {
		conds, args = append(conds, "created < ?"), append(args, tack.CeilMicros(f.Before))
	}
	if !f.After.IsZero() {
		conds, args = append(conds, "created > ?"), append(args, f.After.UnixMicro()) // floor
	}
	for k, v := range f.Meta {
		conds = append(conds, "EXISTS (SELECT 1 FROM pin_meta m WHERE m.pin_id = pins.id AND m.key = ? AND m.value = ?)")
		args = append(args, k, v)
	}
	return strings.Join(conds, " AND "), args, nil
}
