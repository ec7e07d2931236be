// Package auth issues and checks tack's API tokens: JWTs signed with a key
// kept in the data directory, whose IDs are kept in the store so that a
// revoked token is refused at once.
package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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

// LoadOrCreateKey reads the signing key from path, creating a random one
// with mode 0600 if the file does not exist.
func LoadOrCreateKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		key, err := hex.DecodeString(string(trimSpace(b)))
		if err != nil || len(key) < 32 {
			return nil, fmt.Errorf("token signing key %s is damaged: want at least 32 hex-encoded bytes", path)
		}
		return key, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	// O_EXCL: if another process created the key meanwhile, use theirs.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return LoadOrCreateKey(path)
	} else if err != nil {
		return nil, err
	}
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	return key, f.Close()
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

// Issue creates a token for the account, records its ID in the store and
// returns the signed JWT, which is shown to the user once and never stored.
func (a *Auth) Issue(ctx context.Context, accountID int64, name string) (string, *tack.Token, error) {
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return "", nil, err
	}
	t := &tack.Token{ID: hex.EncodeToString(id), AccountID: accountID, Name: name}
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
	t, err := a.store.FindTokenByID(ctx, claims.ID)
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
	acct, err := a.store.FindAccountByID(ctx, accountID)
	if tack.ErrorCode(err) == tack.ENOTFOUND {
		return nil, nil, tack.Errorf(tack.EUNAUTHORIZED, "the account of this API token no longer exists")
	} else if err != nil {
		return nil, nil, err
	}
	if now := a.Now(); now.Sub(t.LastUsed) > touchEvery {
		if err := a.store.TouchToken(ctx, t.ID, now); err != nil {
			return nil, nil, err
		}
		t.LastUsed = now
	}
	return acct, t, nil
}
