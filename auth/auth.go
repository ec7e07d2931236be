// Package auth issues and checks tack's API tokens: JWTs signed with a key
// kept in the store (shared by every node), whose IDs are kept in the store
// too so that a revoked token is refused at once.
package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/tack-ipfs/tack"
)

// Issuer is the "iss" claim of tack's tokens.
const Issuer = "tack"

// touchEvery is how stale a token's last-use time may get before a request
// writes it again: a write per request would make the store the bottleneck
// of Kubo's twice-a-second polling.
const touchEvery = time.Minute

// Auth issues API tokens and authenticates them. It implements
// tack.Authenticator.
type Auth struct {
	store tack.Store
	key   []byte
	// Now returns the current time; tests may replace it.
	Now tack.Clock
}

var _ tack.Authenticator = (*Auth)(nil)

// New returns an Auth that signs with key (at least 32 bytes).
func New(store tack.Store, key []byte) *Auth {
	return &Auth{store: store, key: key, Now: time.Now}
}

// KeySecret is the name under which the store keeps the key that signs
// tokens.
const KeySecret = "token-signing-key"

// SigningKey returns the installation's token signing key, which lives in
// the store so that every node that shares the store signs and checks
// with the same key. The first node to start stores one: the key of
// legacyFile if that file exists (where tack kept its key before, so
// that the tokens it issued stay valid), otherwise a random one. A node
// whose file holds another key than the store's uses the store's.
func SigningKey(ctx context.Context, store tack.SecretStore, legacyFile string) ([]byte, error) {
	offer, err := readKeyFile(legacyFile)
	if errors.Is(err, os.ErrNotExist) {
		offer = make([]byte, 32)
		if _, err := rand.Read(offer); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	key, err := store.EnsureSecret(ctx, KeySecret, offer)
	if err != nil {
		return nil, fmt.Errorf("token signing key: %w", err)
	}
	if len(key) < 32 {
		return nil, fmt.Errorf("the store's token signing key is damaged: %d bytes, want at least 32", len(key))
	}
	return key, nil
}

// readKeyFile reads a hex-encoded key of at least 32 bytes from path.
func readKeyFile(path string) ([]byte, error) {
	if path == "" {
		return nil, os.ErrNotExist
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := hex.DecodeString(string(trimSpace(b)))
	if err != nil || len(key) < 32 {
		return nil, fmt.Errorf("token signing key %s is damaged: want at least 32 hex-encoded bytes", path)
	}
	return key, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

// Issue creates a full token for the account, as IssueScoped does.
func (a *Auth) Issue(ctx context.Context, accountID int64, name string) (string, *tack.Token, error) {
	return a.IssueScoped(ctx, accountID, name, tack.ScopeFull)
}

// IssueScoped creates a token of the given scope for the account, records
// it in the store and returns the signed JWT, which is shown to the user
// once and never stored. The scope lives in the store only: the JWT names
// the token, and Authenticate reads its scope from the store's record.
// Returns EINVALID for an unknown scope.
func (a *Auth) IssueScoped(ctx context.Context, accountID int64, name string, scope tack.Scope) (string, *tack.Token, error) {
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return "", nil, err
	}
	t := &tack.Token{ID: hex.EncodeToString(id), AccountID: accountID, Name: name, Scope: scope}
	if err := a.store.CreateToken(ctx, t); err != nil {
		return "", nil, err
	}
	claims := jwt.RegisteredClaims{
		Issuer:   Issuer,
		Subject:  strconv.FormatInt(accountID, 10),
		ID:       t.ID,
		IssuedAt: jwt.NewNumericDate(t.Created),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(a.key)
	if err != nil {
		return "", nil, err
	}
	return s, t, nil
}

// Authenticate returns the account and token record of a signed token.
// It returns EUNAUTHORIZED if the token is missing, malformed, not signed
// by this service's key, unknown or revoked.
func (a *Auth) Authenticate(ctx context.Context, token string) (*tack.Account, *tack.Token, error) {
	if token == "" {
		return nil, nil, tack.Errorf(tack.EUNAUTHORIZED, "missing API token: send it as Authorization: Bearer <token>")
	}
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return a.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(Issuer),
		jwt.WithTimeFunc(a.Now),
	)
	if err != nil {
		return nil, nil, tack.Errorf(tack.EUNAUTHORIZED, "invalid API token")
	}
	accountID, err := strconv.ParseInt(claims.Subject, 10, 64)
	if err != nil || claims.ID == "" {
		return nil, nil, tack.Errorf(tack.EUNAUTHORIZED, "invalid API token")
	}
	var t *tack.Token
	var acct *tack.Account
	if f, ok := a.store.(tack.TokenAccountFinder); ok {
		t, acct, err = f.FindTokenAndAccount(ctx, claims.ID)
	} else {
		t, err = a.store.FindTokenByID(ctx, claims.ID)
	}
	if tack.ErrorCode(err) == tack.ENOTFOUND {
		return nil, nil, tack.Errorf(tack.EUNAUTHORIZED, "unknown API token")
	} else if err != nil {
		return nil, nil, err
	}
	if !t.Revoked.IsZero() {
		return nil, nil, tack.Errorf(tack.EUNAUTHORIZED, "this API token was revoked")
	}
	if t.AccountID != accountID {
		return nil, nil, tack.Errorf(tack.EUNAUTHORIZED, "invalid API token")
	}
	if acct == nil {
		acct, err = a.store.FindAccountByID(ctx, accountID)
		if tack.ErrorCode(err) == tack.ENOTFOUND {
			return nil, nil, tack.Errorf(tack.EUNAUTHORIZED, "the account of this API token no longer exists")
		} else if err != nil {
			return nil, nil, err
		}
	}
	if now := a.Now(); now.Sub(t.LastUsed) > touchEvery {
		if err := a.store.TouchToken(ctx, t.ID, now); err != nil {
			return nil, nil, err
		}
		t.LastUsed = now
	}
	return acct, t, nil
}
