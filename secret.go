package tack

import "context"

// SecretStore keeps the secrets that every node of one installation
// shares: the key that signs API tokens and web forms' CSRF tokens lives
// here, so that a token issued by one node is accepted by all of them.
type SecretStore interface {
	// EnsureSecret stores value under name unless a secret of that name is
	// stored already, and returns the stored secret: value when it was
	// stored now, the earlier one otherwise. Concurrent callers, on one node
	// or many, all get the same secret. Returns EINVALID for an empty name
	// or value.
	EnsureSecret(ctx context.Context, name string, value []byte) ([]byte, error)
}
