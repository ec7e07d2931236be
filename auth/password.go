package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// argon2Params are the cost parameters of an argon2id hash.
type argon2Params struct {
	memory  uint32 // KiB
	time    uint32 // passes
	threads uint8
}

// The parameters of new hashes: OWASP's recommendation for argon2id
// (19 MiB, 2 passes, 1 thread). Hashes keep their own parameters, so these
// may grow without invalidating old passwords.
const (
	hashMemory  = 19456 // KiB
	hashTime    = 2
	hashThreads = 1
	saltLen     = 16 // bytes of random salt
	keyLen      = 32 // bytes of derived key
)

// Limits on the parameters CheckPassword accepts, so that a damaged hash
// cannot make it run for minutes or take gigabytes.
const (
	maxMemory = 1 << 20 // KiB: 1 GiB
	maxTime   = 64
	minSalt   = 8
	minKey    = 16
	maxKey    = 1024
)

// HashPassword hashes password with argon2id and a random salt, and returns
// the hash in the PHC string format:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>, salt and key in unpadded
// standard base64.
func HashPassword(password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, hashTime, hashMemory, hashThreads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, hashMemory, hashTime, hashThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches hash, a string that
// HashPassword returned (with any parameters). It compares in constant
// time. It returns an error only if hash is malformed.
func CheckPassword(hash, password string) (bool, error) {
	p, salt, key, err := parsePasswordHash(hash)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// errMalformedHash is returned for any hash CheckPassword cannot read; it
// never quotes the hash.
var errMalformedHash = errors.New("malformed password hash: want $argon2id$v=19$m=…,t=…,p=…$salt$key")

// parsePasswordHash splits an argon2id PHC string into its parameters,
// salt and key, checking each against the limits above.
func parsePasswordHash(hash string) (p argon2Params, salt, key []byte, err error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, errMalformedHash
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return p, nil, nil, errMalformedHash
	}
	var vals [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(params[i], name)
		if !ok {
			return p, nil, nil, errMalformedHash
		}
		if vals[i], err = strconv.ParseUint(v, 10, 32); err != nil {
			return p, nil, nil, errMalformedHash
		}
	}
	memory, time, threads := vals[0], vals[1], vals[2]
	if threads < 1 || threads > 255 || time < 1 || time > maxTime || memory < 8*threads || memory > maxMemory {
		return p, nil, nil, errMalformedHash
	}
	p = argon2Params{memory: uint32(memory), time: uint32(time), threads: uint8(threads)}
	if salt, err = base64.RawStdEncoding.Strict().DecodeString(parts[4]); err != nil || len(salt) < minSalt {
		return p, nil, nil, errMalformedHash
	}
	if key, err = base64.RawStdEncoding.Strict().DecodeString(parts[5]); err != nil || len(key) < minKey || len(key) > maxKey {
		return p, nil, nil, errMalformedHash
	}
	return p, salt, key, nil
}
