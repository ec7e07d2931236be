// Package diskspace tells how much room a filesystem has left, and keeps a
// reserve: a file of fixed size that tack gives back when the disk fills,
// so that what frees room (deleting pins, garbage collection, SQLite's and
// Pebble's logs of those deletions) still has room to write.
package diskspace

import (
	"github.com/tack-ipfs/tack"

	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Room is the space of the filesystem that holds a path.
type Room struct {
	Free  uint64 // bytes an unprivileged process may still write
	Total uint64 // the filesystem's size
}

// Of returns the room on the filesystem that holds path.
func Of(path string) (Room, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return Room{}, fmt.Errorf("diskspace: statfs %s: %w", path, err)
	}
	return Room{Free: st.Bavail * uint64(st.Bsize), Total: st.Blocks * uint64(st.Bsize)}, nil
}

// IsFull tells whether err is the system's "no space left on device".
func IsFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC)
}

// ReserveSize returns the size of the reserve for a filesystem of total
// bytes: 1/32 of it, between 8 MiB and 256 MiB.
func ReserveSize(total uint64) int64 {
	return int64(min(max(total/32, 8<<20), 256<<20))
}

// Reserve is a file that holds room for deletions. It is made when the
// disk has room for it twice over, and released (deleted) when the disk
// fills: the room it held is then there for whatever frees more.
type Reserve struct {
	path string
	size int64

	mu    sync.Mutex
	spent atomic.Bool // released for lack of room, and not made again since
}

// NewReserve returns the reserve of size bytes at path. It neither makes
// nor removes the file.
func NewReserve(path string, size int64) *Reserve {
	return &Reserve{path: path, size: size}
}

// Path is the reserve's file.
func (r *Reserve) Path() string { return r.path }

// Size is the reserve's size.
func (r *Reserve) Size() int64 { return r.size }

// Held tells whether the reserve's file is there, whole.
func (r *Reserve) Held() bool {
	fi, err := os.Stat(r.path)
	return err == nil && fi.Size() >= r.size
}

// Spent tells whether the reserve was released for lack of room and not
// made again since: while it is, tack writes no new blocks, so that the
// room it gave back stays for deletions.
func (r *Reserve) Spent() bool { return r.spent.Load() }

// Release deletes the reserve's file, marks the reserve spent, and returns
// the bytes it held (0 if it was not there).
func (r *Reserve) Release() (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.spent.Store(true)
	fi, err := os.Stat(r.path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	} else if err != nil {
		return 0, fmt.Errorf("diskspace: reserve: %w", err)
	}
	if err := os.Remove(r.path); err != nil {
		return 0, fmt.Errorf("diskspace: release the reserve: %w", err)
	}
	return fi.Size(), nil
}

// Make writes the reserve's file if it is not there and the disk has
// room for it twice over (so that making it never fills the disk), and
// tells whether it is held now.
func (r *Reserve) Make() (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Held() {
		return true, nil
	}
	room, err := Of(filepath.Dir(r.path))
	if err != nil {
		return false, err
	}
	if room.Free < 2*uint64(r.size) {
		return false, nil
	}
	tmp := r.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return false, fmt.Errorf("diskspace: make the reserve: %w", err)
	}
	// fallocate(2) takes the blocks without writing them; a filesystem
	// without it gets zeros written.
	err = unix.Fallocate(int(f.Fd()), 0, 0, r.size)
	if errors.Is(err, unix.EOPNOTSUPP) {
		err = writeZeros(f, r.size)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, r.path)
	}
	if err != nil {
		os.Remove(tmp)
		return false, fmt.Errorf("diskspace: make the reserve: %w", err)
	}
	r.spent.Store(false)
	return true, nil
}

// Watch checks the room on the reserve's disk every interval until ctx
// ends. It releases the reserve when the free room falls below a quarter
// of the reserve's size (the disk is filling past it), and makes it again
// once the disk has room for it twice over. changed is called after each
// release or remake, with the room measured before it.
func (r *Reserve) Watch(ctx context.Context, every time.Duration, changed func(released bool, room Room, err error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		room, err := Of(filepath.Dir(r.path))
		if err != nil {
			continue
		}
		switch {
		case room.Free < uint64(r.size)/4 && !r.Spent():
			_, err := r.Release()
			changed(true, room, err)
		case r.Spent() && room.Free >= 2*uint64(r.size):
			held, err := r.Make()
			if held || err != nil {
				changed(false, room, err)
			}
		}
	}
}

// NoRoomError says that a directory's disk has too little room for what
// tack must write there, and how much to free.
type NoRoomError struct {
	Dir  string // the directory tack writes in
	What string // what needs the room: "opening the blockstore"
	Free uint64 // bytes free
	Need uint64 // bytes needed
}

func (e *NoRoomError) Error() string {
	return fmt.Sprintf("the disk holding %s is full: %s free, and %s needs about %s: free at least %s on that disk (see 'A full disk' in docs/operating.md)",
		e.Dir, tack.FormatSize(int64(e.Free)), e.What, tack.FormatSize(int64(e.Need)), tack.FormatSize(int64(e.Need-min(e.Free, e.Need))))
}

// Is makes a NoRoomError an ENOSPC for errors.Is, and so for IsFull.
func (e *NoRoomError) Is(target error) bool { return target == syscall.ENOSPC }

// Check returns a NoRoomError if the disk holding dir has less than need
// bytes free.
func Check(dir, what string, need uint64) error {
	room, err := Of(dir)
	if err != nil {
		return err
	}
	if room.Free < need {
		return &NoRoomError{Dir: dir, What: what, Free: room.Free, Need: need}
	}
	return nil
}

func writeZeros(f *os.File, n int64) error {
	buf := make([]byte, 1<<20)
	for n > 0 {
		k := min(n, int64(len(buf)))
		if _, err := f.Write(buf[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}
