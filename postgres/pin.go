package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
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
	in := *r
	if in.ID == "" {
		in.ID = tack.NewRequestID()
	}
	// One statement, its own transaction: one round trip.
	for attempt := 1; ; attempt++ {
		stored := in
		err := db.createPin(ctx, db.pool, &stored)
		if attempt < maxAttempts && retryable(errors.Unwrap(err)) {
			continue
		}
		if err != nil {
			return err
		}
		*r = stored
		return nil
	}
}

// ReplacePin stores r as CreatePin does and deletes the account's request
// oldID in the same transaction. Returns ENOTFOUND, storing nothing, if the
// account has no request oldID. r.AccountID is set to accountID.
func (db *DB) ReplacePin(ctx context.Context, accountID int64, oldID string, r *tack.PinRequest) error {
	in := *r
	in.AccountID = accountID
	if err := tack.CheckNewPin(&in); err != nil {
		return err
	}
	if in.ID == "" {
		in.ID = tack.NewRequestID()
	}
	var stored tack.PinRequest
	err := db.write(ctx, func(tx pgx.Tx) error {
		stored = in
		// The content key first, then the account: the order CompleteDAG
		// takes them in.
		if err := lockKeys(ctx, tx, stored.Key); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE`, accountID); err != nil {
			return fmt.Errorf("lock account: %w", err)
		}
		// The old DAG's blocks stay while the new one is fetched (see
		// WantedKeys); a failed request's DAG was never held.
		var prevKey string
		err := tx.QueryRow(ctx, `
			SELECT key FROM pins WHERE id = $1 AND account_id = $2 AND status <> 'failed'`, oldID, accountID).Scan(&prevKey)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("find pin: %w", err)
		}
		if err := deletePin(ctx, tx, accountID, oldID); err != nil {
			return err
		}
		if err := db.createPin(ctx, tx, &stored); err != nil {
			return err
		}
		if prevKey != "" && prevKey != stored.Key && stored.Status == tack.StatusQueued {
			if _, err := tx.Exec(ctx, `UPDATE pins SET prev_key = $1 WHERE id = $2`, prevKey, stored.ID); err != nil {
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

// createPin stores r through q (the pool, or a transaction) with
// tack_create_pin, which takes r.Key's lock and the account's row lock,
// and sets r.Created and, if the DAG is held, r.Status, r.Blocks and
// r.Bytes. The function admits r by the rules, in the order, that the
// root package's admission.go states; its result names the rule that
// refused r, and here it becomes that rule's error.
func (db *DB) createPin(ctx context.Context, q querier, r *tack.PinRequest) error {
	origins, err := json.Marshal(r.Pin.Origins)
	if err != nil {
		return fmt.Errorf("marshal origins: %w", err)
	}
	meta, err := json.Marshal(r.Pin.Meta)
	if err != nil {
		return fmt.Errorf("marshal meta: %w", err)
	}
	var result, status, details string
	var created, blocks, bytes, turn, head int64
	var limit, stored *int64
	// head is where the account's ready requests begin, for the queue
	// position of a request past the horizon (see setPosition): the
	// subquery reads the statement's snapshot, taken before the function
	// inserted the new request, whose turn comes after every other of the
	// account's, hence the LEAST.
	err = q.QueryRow(ctx, `
		SELECT c.*, LEAST(coalesce((
			SELECT min(turn) FROM pins
			WHERE account_id = $2 AND status = 'queued' AND retry_at = 0), c.o_turn), c.o_turn)
		FROM tack_create_pin($1, $2, $3, $4, $5, $6, $7, $8::text::jsonb, $9, $10, $11, $12, $13, $14) c`,
		r.ID, r.AccountID, r.Pin.CID, r.Key, r.Pin.Name, strings.ToLower(r.Pin.Name), string(origins), string(meta),
		r.Details, r.Blocks, r.Bytes, db.now(), db.Limits.MaxPending, db.Limits.MaxBytes,
	).Scan(&result, &created, &status, &blocks, &bytes, &details, &turn, &limit, &stored, &head)
	if isUniqueViolation(err) {
		return tack.ErrIDExists("pin request")
	} else if err != nil {
		return fmt.Errorf("create pin: %w", err)
	}
	switch result {
	case "ok":
	case "no account":
		return tack.ErrAccountNotFound()
	case "over pending":
		return tack.ErrOverPending(*limit)
	case "over bytes":
		return tack.ErrOverStorage(bytes, *stored, *limit)
	default:
		return fmt.Errorf("create pin: %s", result)
	}
	r.Created, r.Status, r.Blocks, r.Bytes, r.Details = timeOf(created), tack.Status(status), blocks, bytes, details
	r.ProgressAt, r.Attempts, r.RetryAt, r.Turn = timeOf(created), 0, time.Time{}, turn
	db.setPosition(r, head)
	return nil
}

// setPosition sets the queue position of a request just created, whose
// account's ready requests begin at turn head, if it is past the queue's
// horizon as last looked up (less than a tack.QueueHorizonTTL ago): what
// QueuePositions would set, without the round trip it would take. Nearer
// the head of the queue, or with no fresh horizon, it leaves Position 0
// for QueuePositions to count.
func (db *DB) setPosition(r *tack.PinRequest, head int64) {
	r.Position, r.PositionOver, r.OwnAhead = 0, false, 0
	if r.Status != tack.StatusQueued {
		return
	}
	h, fresh := db.horizon.Fresh()
	if h == nil || !fresh || h.Compare(tack.QueueKeyOf(r)) >= 0 {
		return
	}
	r.Position, r.PositionOver, r.OwnAhead = tack.MaxCountedPosition+1, true, max(r.Turn-head, 0)
}

// PurgePins deletes every request of the account and returns how many
// there were.
func (db *DB) PurgePins(ctx context.Context, accountID int64) (int, error) {
	var n int64
	err := db.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM pins WHERE account_id = $1`, accountID)
		n = tag.RowsAffected()
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
	return db.write(ctx, func(tx pgx.Tx) error {
		return deletePin(ctx, tx, accountID, id)
	})
}

func deletePin(ctx context.Context, tx pgx.Tx, accountID int64, id string) error {
	tag, err := tx.Exec(ctx, `DELETE FROM pins WHERE id = $1 AND account_id = $2`, id, accountID)
	if err != nil {
		return fmt.Errorf("delete pin: %w", err)
	} else if tag.RowsAffected() == 0 {
		return tack.ErrNotFound("pin request")
	}
	return nil
}

// FindPinByID returns the account's request. Returns ENOTFOUND if there is
// none, or if the request belongs to another account.
func (db *DB) FindPinByID(ctx context.Context, accountID int64, id string) (*tack.PinRequest, error) {
	r, err := sqlrow.ScanPin(db.pool.QueryRow(ctx, `
		SELECT `+sqlrow.PinColumns+` FROM pins
		WHERE id = $1 AND account_id = $2`, id, accountID))
	if errors.Is(err, pgx.ErrNoRows) {
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
	var countArgs args
	where, err := pinWhere(f, &countArgs)
	if err != nil {
		return nil, 0, err
	}
	var listArgs args
	list, err := pinList(f, &listArgs, limit)
	if err != nil {
		return nil, 0, err
	}
	var pins []*tack.PinRequest
	var count int
	err = db.read(ctx, func(tx pgx.Tx) error {
		if pins, err = queryAll(ctx, tx, sqlrow.ScanPin, list, listArgs...); err != nil {
			return err
		}
		if f.OnlyStatuses() {
			// Kubo's `service ls --stat` asks for this count for each
			// status: the triggers' counters answer it at once.
			return countByStatus(ctx, tx, f.AccountID, f.Statuses, &count)
		}
		return tx.QueryRow(ctx, `SELECT count(*) FROM pins WHERE `+where, countArgs...).Scan(&count)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("find pins: %w", err)
	}
	return pins, count, nil
}

// pinList returns the query that lists the newest limit requests that f
// matches. With a status filter and no CID filter, each status is read
// newest first from the account's index of that status, and the lists are
// merged: a status that the account has few requests in costs as little
// as one it has many in, so Kubo's `?status=failed&limit=1` is cheap in an
// account of a million pins. The created times of an account are unique,
// so they order its requests.
func pinList(f tack.PinFilter, a *args, limit int) (string, error) {
	if len(f.Statuses) == 0 || len(f.Keys) > 0 {
		where, err := pinWhere(f, a)
		if err != nil {
			return "", err
		}
		return `
			SELECT ` + sqlrow.PinColumns + ` FROM pins
			WHERE ` + where + `
			ORDER BY created DESC, id DESC
			LIMIT ` + a.add(limit), nil
	}
	var parts []string
	statuses := slices.Compact(slices.Sorted(slices.Values(f.Statuses)))
	for _, st := range statuses {
		g := f
		g.Statuses = []tack.Status{st}
		w, err := pinWhere(g, a)
		if err != nil {
			return "", err
		}
		parts = append(parts, `(
			SELECT `+sqlrow.PinColumns+` FROM pins
			WHERE `+w+`
			ORDER BY created DESC
			LIMIT `+a.add(limit)+`)`)
	}
	if len(statuses) == 1 {
		// One status (the API's default, pinned) is in order as read.
		return strings.TrimSuffix(strings.TrimPrefix(parts[0], "("), ")"), nil
	}
	return `SELECT * FROM (` + strings.Join(parts, " UNION ALL ") + `) u ORDER BY created DESC, id DESC LIMIT ` + a.add(limit), nil
}

// countByStatus sets count to how many of the account's requests are in
// one of statuses (any status if none), from pin_counts.
func countByStatus(ctx context.Context, q querier, accountID int64, statuses []tack.Status, count *int) error {
	var a args
	query := `SELECT coalesce(sum(n), 0) FROM pin_counts WHERE account_id = ` + a.add(accountID)
	if len(statuses) > 0 {
		query += ` AND status = ANY(` + a.add(statusStrings(statuses)) + `)`
	}
	return q.QueryRow(ctx, query, a...).Scan(count)
}

func statusStrings(statuses []tack.Status) []string {
	out := make([]string, 0, len(statuses))
	for _, s := range slices.Compact(slices.Sorted(slices.Values(statuses))) {
		out = append(out, string(s))
	}
	return out
}

// pinWhere returns the WHERE clause of f, its arguments added to a.
func pinWhere(f tack.PinFilter, a *args) (string, error) {
	conds := []string{"account_id = " + a.add(f.AccountID)}
	if len(f.Keys) > 0 {
		conds = append(conds, "key = ANY("+a.add(f.Keys)+")")
	}
	if f.Name != nil {
		// Literal comparisons only: user text never reaches LIKE, so % and
		// _ are ordinary characters. Case folding is Go's, on both sides.
		switch f.Match {
		case tack.MatchExact, "":
			conds = append(conds, "name = "+a.add(*f.Name))
		case tack.MatchIExact:
			conds = append(conds, "name_lower = "+a.add(strings.ToLower(*f.Name)))
		case tack.MatchPartial:
			conds = append(conds, "strpos(name, "+a.add(*f.Name)+") > 0")
		case tack.MatchIPartial:
			conds = append(conds, "strpos(name_lower, "+a.add(strings.ToLower(*f.Name))+") > 0")
		default:
			return "", tack.Errorf(tack.EINVALID, "unknown match %q", f.Match)
		}
	}
	if len(f.Statuses) == 1 {
		conds = append(conds, "status = "+a.add(string(f.Statuses[0])))
	} else if len(f.Statuses) > 1 {
		conds = append(conds, "status = ANY("+a.add(statusStrings(f.Statuses))+")")
	}
	if !f.Before.IsZero() {
		conds = append(conds, "created < "+a.add(tack.CeilMicros(f.Before)))
	}
	if !f.After.IsZero() {
		conds = append(conds, "created > "+a.add(f.After.UnixMicro())) // floor
	}
	if len(f.Meta) > 0 {
		buf, err := json.Marshal(f.Meta)
		if err != nil {
			return "", fmt.Errorf("marshal meta filter: %w", err)
		}
		conds = append(conds, "meta @> "+a.add(string(buf))+"::text::jsonb")
	}
	return strings.Join(conds, " AND "), nil
}
