package node

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/crypto"
)

// loadOrCreateKey reads the private key in path, or creates an Ed25519 key
// there (mode 0600) if the file does not exist. An empty path gives a new
// key that is not saved.
func loadOrCreateKey(path string) (crypto.PrivKey, error) {
	if path == "" {
		sk, _, err := crypto.GenerateEd25519Key(rand.Reader)
		return sk, err
	}
	sk, err := readKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return sk, err
	}
	sk, _, err = crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, err
	}
	data, err := crypto.MarshalPrivateKey(sk)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("node: key file: %w", err)
	}
	// Write a temporary file, make it durable, then link it into place:
	// the key file never exists half-written, and if another process
	// created it meanwhile, its key wins.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".key-*")
	if err != nil {
		return nil, fmt.Errorf("node: key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("node: key file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("node: key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("node: key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("node: key file: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readKey(path)
		}
		return nil, fmt.Errorf("node: key file: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return sk, nil
}

func readKey(path string) (crypto.PrivKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sk, err := crypto.UnmarshalPrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("node: key file %s does not hold a libp2p private key: %w", path, err)
	}
	return sk, nil
}
