package tack

import "strings"

// The checks every store makes of what it is asked to store, before it
// writes, with their errors: stated once here, so that the stores refuse
// the same things with the same messages. The admission of pin requests
// is in admission.go.

// NormalizeEmail returns email as the stores keep and compare it: trimmed
// and lower-cased.
func NormalizeEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

// CheckNewAccount checks an account about to be created, normalizes its
// Email and sets an empty Access to AccessNone. Returns EINVALID for an
// empty email or an unknown access.
func CheckNewAccount(a *Account) error {
	a.Email = NormalizeEmail(a.Email)
	if a.Email == "" {
		return Errorf(EINVALID, "email is required")
	}
	if a.Access == "" {
		a.Access = AccessNone
	}
	return CheckAccess(a.Access)
}

// CheckAccess returns EINVALID unless access is one of the known states.
func CheckAccess(access Access) error {
	if !access.Valid() {
		return Errorf(EINVALID, "unknown access %q", access)
	}
	return nil
}

// CheckLimits returns EINVALID if either of an account's own limits is
// negative (nil, the server's default, and 0, no limit, are fine).
func CheckLimits(maxPending, maxBytes *int64) error {
	if (maxPending != nil && *maxPending < 0) || (maxBytes != nil && *maxBytes < 0) {
		return Errorf(EINVALID, "limits cannot be negative: give 0 for no limit")
	}
	return nil
}

// CheckNewToken checks a token about to be created and sets an empty Scope
// to ScopeFull. Returns EINVALID if the token has no ID or an unknown
// scope.
func CheckNewToken(t *Token) error {
	if t.Scope == "" {
		t.Scope = ScopeFull
	}
	if _, err := ParseScope(string(t.Scope)); err != nil {
		return err
	}
	return requireID("token", t.ID)
}

// CheckTokenCount returns EQUOTA if an account that holds active tokens
// (not revoked) may not have another: it holds MaxTokens.
func CheckTokenCount(active int) error {
	if active >= MaxTokens {
		return Errorf(EQUOTA, "this account has %d API tokens, the most it may have: revoke one it no longer uses first", MaxTokens)
	}
	return nil
}

// CheckNewSession returns EINVALID if the session has no ID.
func CheckNewSession(s *Session) error { return requireID("session", s.ID) }

// CheckNewInvite returns EINVALID if the invitation has no ID.
func CheckNewInvite(i *Invite) error { return requireID("invitation", i.ID) }

// CheckNewPasswordReset returns EINVALID if the link has no ID.
func CheckNewPasswordReset(r *PasswordReset) error { return requireID("password reset", r.ID) }

// CheckNodeID returns EINVALID for an empty node ID.
func CheckNodeID(id string) error { return requireID("node", id) }

// CheckLeaseOwner returns EINVALID for a claim without an owner
// (ClaimPins).
func CheckLeaseOwner(owner string) error {
	if owner == "" {
		return Errorf(EINVALID, "lease owner is required")
	}
	return nil
}

// CheckDAG returns EINVALID for a DAG without a content key (CompleteDAG).
func CheckDAG(d *DAG) error {
	if d.Key == "" {
		return Errorf(EINVALID, "dag has no content key")
	}
	return nil
}

// requireID returns EINVALID, naming what, for an empty id.
func requireID(what, id string) error {
	if id == "" {
		return Errorf(EINVALID, "%s id is required", what)
	}
	return nil
}

// CheckSecret returns EINVALID unless a secret has a name and a value.
func CheckSecret(name string, value []byte) error {
	if name == "" || len(value) == 0 {
		return Errorf(EINVALID, "a secret needs a name and a value")
	}
	return nil
}

// ListLimit returns how many requests FindPins lists for f: f.Limit, or
// DefaultLimit if it is 0. Returns EINVALID for a negative limit or one
// over MaxListLimit.
func (f PinFilter) ListLimit() (int, error) {
	limit := f.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	if limit < 0 || limit > MaxListLimit {
		return 0, Errorf(EINVALID, "limit must be between 1 and %d", MaxListLimit)
	}
	return limit, nil
}
