package tack

import (
	"context"
	"time"
)

// Access is an account's pinning access: whether /pins accepts its requests.
type Access string

// The states of pinning access. Only AccessApproved may use /pins.
const (
	AccessNone      Access = "none"
	AccessRequested Access = "requested"
	AccessApproved  Access = "approved"
	AccessDenied    Access = "denied"
)

// Valid reports whether a is one of the known access states.
func (a Access) Valid() bool {
	switch a {
	case AccessNone, AccessRequested, AccessApproved, AccessDenied:
		return true
	}
	return false
}

// Account is a user of tack. Pins and tokens belong to an account.
type Account struct {
	ID      int64
	Email   string // unique, stored lower-cased
	Admin   bool   // operators can approve access for others
	Access  Access
	Created time.Time
	// Blocked accounts are refused by the API and cannot sign in; their
	// pins stay stored. Only operators block and unblock.
	Blocked bool
	// PasswordHash is the web sign-in password, hashed (argon2id, in the
	// PHC string format). Empty means the account cannot sign in on the
	// web pages: accounts made by the CLI until a password is set.
	PasswordHash string
	// MaxPending and MaxBytes are the account's own limits (see Limits);
	// nil takes the server's default.
	MaxPending *int64
	MaxBytes   *int64
}

// Limits cap what an account may hold. Zero means no limit.
type Limits struct {
	// MaxPending caps the account's queued plus pinning requests: a new
	// request over it is refused with EQUOTA.
	MaxPending int64
	// MaxBytes caps the bytes of the account's pinned DAGs (each distinct
	// DAG counted once): a DAG that would take the account over it fails.
	MaxBytes int64
}

// Limits returns the account's limits: its own where set, def elsewhere.
func (a *Account) Limits(def Limits) Limits {
	return Limits{MaxPending: Limit(a.MaxPending, def.MaxPending), MaxBytes: Limit(a.MaxBytes, def.MaxBytes)}
}

// AccessRequest is an account's request for pinning access, with the
// operator's answer. An account has at most one: asking again replaces it.
type AccessRequest struct {
	AccountID int64
	Email     string   // the account's, filled in by the finds
	What      string   // what the account will pin
	Volume    string   // the expected volume, in the user's words
	CIDs      []string // a few example CIDs, as the user wrote them
	Requested time.Time
	Message   string    // the operator's message with the decision
	Decided   time.Time // zero until approved or denied
}

// Usage is what an account holds.
type Usage struct {
	Pins map[Status]int // how many requests are in each status; every status is present
	// Bytes is the size of the account's pinned DAGs, each distinct DAG
	// counted once however many of its requests pin it.
	Bytes int64
	// Kept is the size of the blocks the account's uploads stored toward
	// DAGs not yet whole for which it has a queued or pinning request
	// (see UploadKeepStore). It counts against MaxBytes with Bytes.
	Kept int64
}

// NewUsage returns a usage with every status at 0: that of an account
// without requests.
func NewUsage() *Usage {
	return &Usage{Pins: map[Status]int{
		StatusQueued: 0, StatusPinning: 0, StatusPinned: 0, StatusFailed: 0,
	}}
}

// Usages is the usage of accounts by ID, as a store gathers it.
type Usages map[int64]*Usage

// Of returns the account's usage, adding a new one (NewUsage) if it has
// none yet.
func (u Usages) Of(id int64) *Usage {
	if u[id] == nil {
		u[id] = NewUsage()
	}
	return u[id]
}

// Stored returns the bytes that count against the account's MaxBytes:
// its pinned DAGs and what its incomplete uploads keep.
func (u *Usage) Stored() int64 { return u.Bytes + u.Kept }

// Pending returns how many of the account's requests are queued or
// pinning: what Limits.MaxPending caps.
func (u *Usage) Pending() int {
	return u.Pins[StatusQueued] + u.Pins[StatusPinning]
}

// Requests returns how many requests the account has, in every status.
func (u *Usage) Requests() int {
	n := 0
	for _, c := range u.Pins {
		n += c
	}
	return n
}

// AccountStore keeps accounts.
type AccountStore interface {
	// CreateAccount stores a new account and sets its ID and Created.
	// Returns ECONFLICT if the email is taken, EINVALID if it is empty.
	CreateAccount(ctx context.Context, a *Account) error

	// FindAccountByID returns ENOTFOUND if there is no such account.
	FindAccountByID(ctx context.Context, id int64) (*Account, error)

	// FindAccountByEmail returns ENOTFOUND if there is no such account.
	// The email is compared case-insensitively.
	FindAccountByEmail(ctx context.Context, email string) (*Account, error)

	// FindAccounts returns all accounts, oldest first.
	FindAccounts(ctx context.Context) ([]*Account, error)

	// SetAccountAccess changes an account's pinning access. If the account
	// has an access request, message and the time become its answer.
	// Returns ENOTFOUND if there is no such account, EINVALID if access is
	// unknown.
	SetAccountAccess(ctx context.Context, id int64, access Access, message string) error

	// SetAccountBlocked blocks or unblocks an account. A blocked account's
	// queued requests are Held: ClaimPins hands none of them out until the
	// account is unblocked, when they go to the back of the queue's turns.
	// Returns ENOTFOUND if there is no such account.
	SetAccountBlocked(ctx context.Context, id int64, blocked bool) error

	// SetAccountLimits sets the account's own limits; nil returns a limit
	// to the server's default. Returns ENOTFOUND if there is no such
	// account, EINVALID for a negative limit.
	SetAccountLimits(ctx context.Context, id int64, maxPending, maxBytes *int64) error

	// SetAccountPassword replaces an account's password hash. Returns
	// ENOTFOUND if there is no such account.
	SetAccountPassword(ctx context.Context, id int64, hash string) error

	// RequestAccess stores r as the account's access request, replacing any
	// earlier one and its answer, sets r.Requested, and sets the account's
	// access to requested. Returns ENOTFOUND if the account does not exist.
	RequestAccess(ctx context.Context, r *AccessRequest) error

	// FindAccessRequest returns the account's access request, or ENOTFOUND.
	FindAccessRequest(ctx context.Context, accountID int64) (*AccessRequest, error)

	// FindAccessRequests returns the requests of the accounts whose access
	// is access (AccessRequested: the ones waiting), oldest first.
	FindAccessRequests(ctx context.Context, access Access) ([]*AccessRequest, error)

	// FindUsage returns an account's usage; a new account's is all zeros.
	FindUsage(ctx context.Context, accountID int64) (*Usage, error)

	// FindUsages returns the usage of every account that has pin requests,
	// by account ID.
	FindUsages(ctx context.Context) (map[int64]*Usage, error)

	// CountAccounts returns how many accounts exist.
	CountAccounts(ctx context.Context) (int, error)
}
