// Package diskspacetest gives tests a small filesystem of their own to
// fill: a tmpfs mounted for the test.
package diskspacetest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// MustMount mounts a tmpfs of size bytes on a new directory and returns
// it; tb.Cleanup unmounts it. Where mounting is not permitted (not root,
// or in a container without CAP_SYS_ADMIN), the test is skipped and says
// why.
func MustMount(tb testing.TB, size int64) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "tmpfs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	err := unix.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size))
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
		tb.Skipf("mounting a tmpfs is not permitted here (%v): this test needs root (CAP_SYS_ADMIN) to fill a small disk", err)
	}
	if err != nil {
		tb.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	tb.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			tb.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// MustFill writes zeros to the file path until its disk is full, and
// returns how many bytes it wrote. Removing the file frees them.
func MustFill(tb testing.TB, path string) int64 {
	tb.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	var n int64
	for len(buf) > 0 {
		k, err := f.Write(buf)
		n += int64(k)
		switch {
		case errors.Is(err, syscall.ENOSPC):
			buf = buf[:len(buf)/2] // fill the last few blocks too
		case err != nil:
			tb.Fatal(err)
		}
	}
	return n
}
