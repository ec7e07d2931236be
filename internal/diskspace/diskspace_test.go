package diskspace_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tack-ipfs/tack/internal/diskspace"
	"github.com/tack-ipfs/tack/internal/diskspace/diskspacetest"
)

// TestReserve: the reserve is made only with room for it twice over, is
// released by Watch when the disk fills (which frees its room), and made
// again once there is room.
func TestReserve(t *testing.T) {
	mnt := diskspacetest.MustMount(t, 32<<20)
	r := diskspace.NewReserve(filepath.Join(mnt, "reserve"), 8<<20)
	hog := filepath.Join(mnt, "hog")
	if err := os.WriteFile(hog, make([]byte, 20<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	if held, err := r.Make(); err != nil || held {
		t.Fatalf("Make with 12 MiB free: held %v, %v; want not made", held, err)
	}
	os.Remove(hog)
	if held, err := r.Make(); err != nil || !held || !r.Held() || r.Spent() {
		t.Fatalf("Make with 32 MiB free: held %v, %v, spent %v", held, err, r.Spent())
	}

	// Filled before the watch starts, so that the filler never takes the
	// room the reserve gives back.
	diskspacetest.MustFill(t, filepath.Join(mnt, "filler"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changes := make(chan bool, 10)
	go r.Watch(ctx, 20*time.Millisecond, func(released bool, _ diskspace.Room, err error) {
		if err != nil {
			t.Error(err)
		}
		changes <- released
	})
	if released := <-changes; !released || r.Held() || !r.Spent() {
		t.Fatalf("after the disk filled: released %v, held %v, spent %v", released, r.Held(), r.Spent())
	}
	room, err := diskspace.Of(mnt)
	if err != nil {
		t.Fatal(err)
	}
	if room.Free < 8<<20 {
		t.Errorf("releasing the reserve left %d bytes free, want its 8 MiB", room.Free)
	}
	os.Remove(filepath.Join(mnt, "filler"))
	if released := <-changes; released || !r.Held() || r.Spent() {
		t.Fatalf("after room came back: released %v, held %v, spent %v", released, r.Held(), r.Spent())
	}
}

func TestCheck(t *testing.T) {
	mnt := diskspacetest.MustMount(t, 16<<20)
	if err := diskspace.Check(mnt, "opening", 1<<20); err != nil {
		t.Fatal(err)
	}
	diskspacetest.MustFill(t, filepath.Join(mnt, "filler"))
	err := diskspace.Check(mnt, "opening the store", 3<<20)
	var full *diskspace.NoRoomError
	if !errors.As(err, &full) || !errors.Is(err, syscall.ENOSPC) || !diskspace.IsFull(err) {
		t.Fatalf("Check on a full disk: %v", err)
	}
	for _, want := range []string{mnt, "opening the store", "0 B free", "free at least 3.0 MiB"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
}
