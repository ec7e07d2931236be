package auth_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/tack-ipfs/tack/auth"
)

// MustHashPassword hashes password.
func MustHashPassword(tb testing.TB, password string) string {
	tb.Helper()
	hash, err := auth.HashPassword(password)
	if err != nil {
		tb.Fatalf("HashPassword: %v", err)
	}
	return hash
}

func TestPasswordRoundTrip(t *testing.T) {
	for _, password := range []string{"correct horse battery staple", "", "pässwörd ✓", strings.Repeat("x", 1000)} {
		hash := MustHashPassword(t, password)
		if !regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`).MatchString(hash) {
			t.Errorf("HashPassword(%q) = %q, not an argon2id PHC string with OWASP's parameters", password, hash)
		}
		if ok, err := auth.CheckPassword(hash, password); err != nil || !ok {
			t.Errorf("CheckPassword(hash of %q, same) = %v, %v; want true, nil", password, ok, err)
		}
		if ok, err := auth.CheckPassword(hash, password+"!"); err != nil || ok {
			t.Errorf("CheckPassword(hash of %q, another) = %v, %v; want false, nil", password, ok, err)
		}
	}
}

func TestPasswordSalted(t *testing.T) {
	a, b := MustHashPassword(t, "same password"), MustHashPassword(t, "same password")
	if a == b {
		t.Errorf("two hashes of one password are both %q", a)
	}
	if ok, err := auth.CheckPassword(b, "same password"); err != nil || !ok {
		t.Errorf("CheckPassword(second hash) = %v, %v; want true, nil", ok, err)
	}
}

// TestPasswordParameters checks CheckPassword against hashes with other
// parameters than HashPassword's: test vectors of the reference
// implementation (phc-winner-argon2), password "password", salt "somesalt".
func TestPasswordParameters(t *testing.T) {
	for _, hash := range []string{
		"$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
		"$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc",
		"$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
	} {
		if ok, err := auth.CheckPassword(hash, "password"); err != nil || !ok {
			t.Errorf("CheckPassword(%s, right) = %v, %v; want true, nil", hash, ok, err)
		}
		if ok, err := auth.CheckPassword(hash, "Password"); err != nil || ok {
			t.Errorf("CheckPassword(%s, wrong) = %v, %v; want false, nil", hash, ok, err)
		}
	}
}

func TestPasswordMalformed(t *testing.T) {
	good := MustHashPassword(t, "password")
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	for _, hash := range []string{
		"",
		"password",
		"$argon2id$",
		good + "$",
		strings.TrimPrefix(good, "$"),
		"$argon2i$v=19$m=19456,t=2,p=1$" + salt + "$" + key,
		"$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + key,
		"$argon2id$m=19456,t=2,p=1$" + salt + "$" + key,
		"$argon2id$v=19$t=2,m=19456,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=19456,t=2$" + salt + "$" + key,
		"$argon2id$v=19$m=19456,t=2,p=1,k=1$" + salt + "$" + key,
		"$argon2id$v=19$m=19456,t=0,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=19456,t=2,p=0$" + salt + "$" + key,
		"$argon2id$v=19$m=19456,t=2,p=256$" + salt + "$" + key,
		"$argon2id$v=19$m=7,t=2,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=99999999999,t=2,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=4194304,t=2,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=19456,t=1000000,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=-1,t=2,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=+19456,t=2,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=19456,t=2,p=1$$" + key,
		"$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$",
		"$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key[:4],
		"$argon2id$v=19$m=19456,t=2,p=1$" + salt + "==$" + key,
		"$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key + "==",
		"$argon2id$v=19$m=19456,t=2,p=1$not*base64$" + key,
	} {
		ok, err := auth.CheckPassword(hash, "password")
		if err == nil || ok {
			t.Errorf("CheckPassword(%q) = %v, %v; want false and an error", hash, ok, err)
		}
	}
}

// BenchmarkCheckPassword is the cost of one sign-in: the time and memory
// that the web pages' four hashing slots bound.
func BenchmarkCheckPassword(b *testing.B) {
	hash, err := auth.HashPassword("correct horse battery")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := auth.CheckPassword(hash, "correct horse battery"); err != nil || !ok {
			b.Fatalf("CheckPassword = %v, %v", ok, err)
		}
	}
}
