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

	// SetAccountAccess changes an account's pinning access.
	// Returns ENOTFOUND if there is no such account.
	SetAccountAccess(ctx context.Context, id int64, access Access) error

	// CountAccounts returns how many accounts exist.
	CountAccounts(ctx context.Context) (int, error)
}
