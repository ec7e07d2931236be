// Package tack is the domain of tack, a self-hostable IPFS remote pinning
// service: the types of pin requests, accounts and tokens, the interfaces
// that the other packages implement, and the error codes they share.
//
// Each dependency lives in its own package (sqlite, node, pinner, http, …),
// and only cmd/tack wires them together.
package tack

import "time"

// Store is the metadata store: accounts with their access requests, tokens,
// web sessions, invitations, password reset links, shared secrets, the
// nodes that share the store, and pin requests with their queue.
// Implementations must pass the storetest conformance suite.
type Store interface {
	AccountStore
	TokenStore
	PinStore
	SessionStore
	InviteStore
	PasswordResetStore
	SecretStore
	NodeStore
	CollectionStore
	UploadKeepStore
	Close() error
}

// Clock returns the current time. Stores and services take one so that
// tests can control time.
type Clock func() time.Time

// Notifier is told when the queue changes, so that pin workers react at
// once instead of at their next poll. A nil-safe no-op is fine: workers
// also poll the store and notice deleted requests when they renew leases.
type Notifier interface {
	// Queued says that a request was stored queued.
	Queued()
	// Removed says that the request was deleted or replaced: a fetch that
	// only it needs should stop.
	Removed(requestID string)
}
