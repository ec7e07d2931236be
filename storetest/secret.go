package storetest

import (
	"bytes"
	"sync"
	"testing"

	"github.com/tack-ipfs/tack"
)

func testEnsureSecret(t *testing.T, s tack.Store) {
	ctx := t.Context()
	first, err := s.EnsureSecret(ctx, "jwt", []byte("first key, 32 bytes or more ...."))
	if err != nil {
		t.Fatalf("EnsureSecret: %v", err)
	}
	if string(first) != "first key, 32 bytes or more ...." {
		t.Fatalf("EnsureSecret on an empty store = %q, want the value given", first)
	}
	again, err := s.EnsureSecret(ctx, "jwt", []byte("another key"))
	if err != nil {
		t.Fatalf("EnsureSecret again: %v", err)
	}
	if !bytes.Equal(again, first) {
		t.Fatalf("EnsureSecret of a stored name = %q, want the stored %q", again, first)
	}
	other, err := s.EnsureSecret(ctx, "other", []byte{0, 1, 2, 0xff})
	if err != nil {
		t.Fatalf("EnsureSecret other: %v", err)
	}
	if !bytes.Equal(other, []byte{0, 1, 2, 0xff}) {
		t.Fatalf("EnsureSecret of binary value = %x", other)
	}
	for _, c := range []struct {
		name  string
		value []byte
	}{{"", []byte("x")}, {"empty", nil}} {
		if _, err := s.EnsureSecret(ctx, c.name, c.value); tack.ErrorCode(err) != tack.EINVALID {
			t.Errorf("EnsureSecret(%q, %q) = %v, want EINVALID", c.name, c.value, err)
		}
	}
}

// Nodes starting at once each offer their own random key; all must end up
// with the same one.
func testEnsureSecretConcurrent(t *testing.T, s tack.Store) {
	const n = 8
	got := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			v, err := s.EnsureSecret(t.Context(), "race", []byte{byte(i + 1)})
			if err != nil {
				t.Errorf("EnsureSecret: %v", err)
			}
			got[i] = v
		})
	}
	wg.Wait()
	for i := range got {
		if !bytes.Equal(got[i], got[0]) || len(got[0]) != 1 {
			t.Fatalf("concurrent EnsureSecret returned %x, want one secret for all", got)
		}
	}
}
