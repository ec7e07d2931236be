package tack

// The admission of a new pin request: the rules by which CreatePin (and
// ReplacePin) store or refuse it. Each store applies them in its own SQL,
// under its own locks (SQLite in Go inside its write transaction,
// PostgreSQL in its tack_create_pin function), in this order, with these
// errors; storetest checks them on every store:
//
//  1. The request's own fields: CheckNewPin (EINVALID).
//  2. The account must exist: ErrAccountNotFound (ENOTFOUND).
//  3. If the DAG is held whole (CompleteDAG recorded it), the request is
//     stored pinned, with the DAG's size, if the account has room for it:
//     CheckStorage, else EQUOTA. MaxPending does not apply to it.
//  4. Otherwise it is stored queued, if the account has fewer pending
//     requests than its MaxPending: CheckPending, else EQUOTA. It takes
//     the account's next turn: NextTurn.
//
// The limits are the account's own where set, the store's default
// elsewhere: Limit.

// CheckNewPin checks the fields of a request about to be created and sets
// an empty Status to queued: a new request must be queued (the store
// decides whether it is pinned at once), and must have a content key.
// Returns EINVALID otherwise.
func CheckNewPin(r *PinRequest) error {
	if r.Status == "" {
		r.Status = StatusQueued
	}
	if r.Status != StatusQueued {
		return Errorf(EINVALID, "a new pin request must be queued, not %q", r.Status)
	}
	if r.Key == "" {
		return Errorf(EINVALID, "pin request has no content key")
	}
	return nil
}

// ErrAccountNotFound is the ENOTFOUND error of a request for an account
// that does not exist.
func ErrAccountNotFound() error { return ErrNotFound("account") }

// ErrNotFound is the ENOTFOUND error of a store asked for a record, named
// by what, that does not exist: "token not found".
func ErrNotFound(what string) error { return Errorf(ENOTFOUND, "%s not found", what) }

// ErrEmailExists is the ECONFLICT error of creating an account under an
// email that another account has.
func ErrEmailExists() error {
	return Errorf(ECONFLICT, "an account with this email already exists")
}

// ErrIDExists is the ECONFLICT error of a store asked to create a record,
// named by what, under an ID that is taken: "session id already exists".
func ErrIDExists(what string) error { return Errorf(ECONFLICT, "%s id already exists", what) }

// Limit returns an account's own limit if it has one (see
// Account.MaxPending and MaxBytes), def otherwise.
func Limit(own *int64, def int64) int64 {
	if own != nil {
		return *own
	}
	return def
}

// CheckStorage returns nil if an account that holds stored of its limit
// bytes (0: no limit) may hold a DAG of size bytes: it holds the DAG
// already (held), or the DAG fits. Otherwise it returns EQUOTA, whose
// message names the sizes: CreatePin returns it for a DAG held whole, and
// CompleteDAG fails the account's requests with it as their Details.
func CheckStorage(size, stored, limit int64, held bool) error {
	if limit <= 0 || held || stored+size <= limit {
		return nil
	}
	return ErrOverStorage(size, stored, limit)
}

// ErrOverStorage is CheckStorage's EQUOTA: a DAG of size bytes does not
// fit an account that holds stored of its limit bytes.
func ErrOverStorage(size, stored, limit int64) error {
	return Errorf(EQUOTA, "over the account's storage limit: the DAG is %d bytes, the account holds %d of its %d bytes (ask the operator for a higher limit, or delete pins)",
		size, stored, limit)
}

// CheckPending returns nil if an account with pending requests (queued or
// pinning) may queue one more under its limit (0: no limit), and EQUOTA
// otherwise.
func CheckPending(pending, limit int64) error {
	if limit <= 0 || pending < limit {
		return nil
	}
	return ErrOverPending(limit)
}

// ErrOverPending is CheckPending's EQUOTA: the account has limit pending
// requests, its limit, already.
func ErrOverPending(limit int64) error {
	return Errorf(EQUOTA, "this account already has %d pending requests (queued or pinning), its limit: wait for some to finish, or ask the operator for a higher limit", limit)
}

// NextTurn returns the turn of an account's next queued request, given
// the account's last turn and the queue's virtual time (the last turn
// claimed): an account's turns follow each other, but never start before
// the virtual time, so an account that was idle gets no credit for it.
func NextTurn(lastTurn, vtime int64) int64 {
	return max(lastTurn+1, vtime+1)
}
