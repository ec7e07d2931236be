package tack

import (
	"context"
	"time"
)

// Token is an API token. The token itself is a signed JWT handed to the
// user once; the store keeps only its ID (the JWT's "jti"), so that a
// revoked token is refused at once.
type Token struct {
	ID        string // random, the JWT's jti
	AccountID int64
	Name      string
	Created   time.Time
	LastUsed  time.Time // zero if never used
	Revoked   time.Time // zero unless revoked
	// Scope is what the token may do: ScopeFull or ScopeRead. The store's
	// record is the authority, read on every request, so a token's scope
	// is what it was created with whatever its JWT says.
	Scope Scope
}

// Scope is what an API token may do.
type Scope string

// The scopes of API tokens.
const (
	// ScopeFull may do everything the token's account may: list, get,
	// pin, replace, delete and upload.
	ScopeFull Scope = "full"
	// ScopeRead may only read: list and get pin requests (GET and HEAD
	// requests). Every write gets 403.
	ScopeRead Scope = "read"
)

// ParseScope returns the scope named s ("full", "read"), or EINVALID
// naming the choices.
func ParseScope(s string) (Scope, error) {
	switch sc := Scope(s); sc {
	case ScopeFull, ScopeRead:
		return sc, nil
	}
	return "", Errorf(EINVALID, "unknown token scope %q: use read or full", s)
}

// CanWrite reports whether a token of this scope may write: pin, replace,
// delete, upload.
func (s Scope) CanWrite() bool { return s == ScopeFull }

// MaxTokens is how many API tokens, not revoked, an account may hold.
const MaxTokens = 100

// TokenStore keeps API tokens.
type TokenStore interface {
	// CreateToken stores t and sets Created; an empty Scope is stored,
	// and set, as ScopeFull. Returns EINVALID for an unknown Scope,
	// ECONFLICT if the ID exists, ENOTFOUND if the account does not,
	// EQUOTA if the account holds MaxTokens tokens that are not revoked
	// (checked in the same transaction as the insert).
	CreateToken(ctx context.Context, t *Token) error

	// FindTokenByID returns ENOTFOUND if there is no such token. Revoked
	// tokens are returned with Revoked set.
	FindTokenByID(ctx context.Context, id string) (*Token, error)

	// FindTokens returns an account's tokens, revoked ones included, oldest first.
	FindTokens(ctx context.Context, accountID int64) ([]*Token, error)

	// RevokeToken marks the account's token revoked. Returns ENOTFOUND if the
	// account has no such token.
	RevokeToken(ctx context.Context, accountID int64, id string) error

	// RevokeTokens marks every token of the account that is not revoked
	// revoked, at once, and returns how many it marked. An unknown account
	// has none.
	RevokeTokens(ctx context.Context, accountID int64) (int, error)

	// TouchToken records that the token was used at t.
	TouchToken(ctx context.Context, id string, t time.Time) error
}

// TokenAccountFinder is a store that reads a token and its account in
// one round trip. It is optional: Authenticate, on the path of every API
// request, asks for both, and uses it when the store has it (both stores
// here do), FindTokenByID and FindAccountByID otherwise. storetest checks
// it on every store that has it.
type TokenAccountFinder interface {
	// FindTokenAndAccount returns the token, as FindTokenByID does
	// (revoked tokens included), and its account, as FindAccountByID
	// does. Returns ENOTFOUND if there is no such token; a token's
	// account always exists, since deleting an account deletes its
	// tokens.
	FindTokenAndAccount(ctx context.Context, id string) (*Token, *Account, error)
}

// Authenticator turns an API token, as sent in `Authorization: Bearer`,
// into the account it belongs to and the token's record, as stored: its
// Scope is the store's. It returns
// EUNAUTHORIZED for a missing, malformed, unknown, expired or revoked token.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*Account, *Token, error)
}
