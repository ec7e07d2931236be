package tack

import (
	"context"
	"time"
)

// Session is a signed-in browser of the web pages. The browser holds a
// random secret in a cookie; stores keep only its hash, which is the ID.
type Session struct {
	ID        string // hex SHA-256 of the cookie's secret
	AccountID int64
	Created   time.Time
	Expires   time.Time
}

// SessionStore keeps web sessions.
type SessionStore interface {
	// CreateSession stores s and sets Created. Sessions that have expired
	// by then may be deleted. Returns ENOTFOUND if the account does not
	// exist, ECONFLICT if the ID does.
	CreateSession(ctx context.Context, s *Session) error

	// FindSession returns ENOTFOUND if there is no such session. Expired
	// sessions may still be returned: callers check Expires.
	FindSession(ctx context.Context, id string) (*Session, error)

	// DeleteSession deletes a session; deleting a missing one is not an error.
	DeleteSession(ctx context.Context, id string) error

	// DeleteSessions deletes every session of an account: it is signed
	// out everywhere.
	DeleteSessions(ctx context.Context, accountID int64) error
}

// Invite lets one person sign up when sign-up is by invitation. The
// operator hands out a random code; stores keep only its hash, the ID.
type Invite struct {
	ID        string // hex SHA-256 of the code
	CreatedBy int64  // the operator's account
	Created   time.Time
	Expires   time.Time
	UsedBy    int64 // 0 until used
	Used      time.Time
}

// InviteStore keeps invitations.
type InviteStore interface {
	// CreateInvite stores i and sets Created. Returns ECONFLICT if the ID
	// exists.
	CreateInvite(ctx context.Context, i *Invite) error

	// FindInvites returns the invitations that are neither used nor
	// expired at now, newest first.
	FindInvites(ctx context.Context, now time.Time) ([]*Invite, error)

	// CreateAccountWithInvite creates a as CreateAccount does and uses up
	// the invitation in the same transaction. Returns ENOTFOUND, creating
	// nothing, if the invitation does not exist, is used or has expired
	// at a's creation time; ECONFLICT if the email is taken.
	CreateAccountWithInvite(ctx context.Context, a *Account, inviteID string) error
}

// PasswordReset lets one account set a new password without knowing the
// old one: an operator makes a link for a user who forgot theirs. The link
// holds a random code; stores keep only its hash, the ID.
type PasswordReset struct {
	ID        string // hex SHA-256 of the code
	AccountID int64
	CreatedBy int64 // the operator's account
	Created   time.Time
	Expires   time.Time
}

// PasswordResetStore keeps password reset links.
type PasswordResetStore interface {
	// CreatePasswordReset stores r and sets Created. Returns ENOTFOUND if
	// the account does not exist, ECONFLICT if the ID does.
	CreatePasswordReset(ctx context.Context, r *PasswordReset) error

	// FindPasswordReset returns ENOTFOUND if there is no such link. An
	// expired link may still be returned: callers check Expires.
	FindPasswordReset(ctx context.Context, id string) (*PasswordReset, error)

	// ResetPassword sets the password hash of the link's account, and in
	// the same transaction deletes every reset link and every session of
	// that account, so that the link works once and whoever was signed in
	// is signed out, and, if revokeTokens, revokes every API token of the
	// account. It returns the account. Returns ENOTFOUND, changing
	// nothing, if the link does not exist or has expired.
	ResetPassword(ctx context.Context, id, hash string, revokeTokens bool) (*Account, error)
}
