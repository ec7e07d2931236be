package main

import (
	"github.com/tack-ipfs/tack"

	"context"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/tack-ipfs/tack/blockstore"
	"github.com/tack-ipfs/tack/internal/diskspace"
)

// reserveFile is the reserve's file in the data directory.
const reserveFile = "reserve"

// roomEvery is how often a serving tack looks at the room on its disk.
const roomEvery = time.Second

// sqliteRoom is the room SQLite needs to open: its shared-memory index
// (32 KiB) and the first pages of its log.
const sqliteRoom = 1 << 20

// room keeps tack's reserve on the data directory's disk: a file of 1/32
// of the disk (8–256 MiB) that tack releases when the disk fills, so that
// what frees room (deleting pins, collecting garbage, the SQLite and
// Pebble writes they make) has room to write; while it is released, tack
// stores no new blocks. See "A full disk" in docs/operating.md.
type room struct {
	data    string
	reserve *diskspace.Reserve
	log     *slog.Logger
}

// openRoom looks at the room on data's disk before tack opens its stores:
// short of a quarter of the reserve, it releases the reserve; with room
// for it twice over, it makes it. size is the reserve's size, AutoReserve
// for 1/32 of the disk, 0 for none: the room then only says so when a
// store finds the disk full.
func openRoom(data string, size int64, log *slog.Logger) (*room, error) {
	now, err := diskspace.Of(data)
	if err != nil {
		return nil, err
	}
	if size == AutoReserve {
		size = diskspace.ReserveSize(now.Total)
	}
	r := &room{data: data, log: log}
	if size == 0 {
		return r, nil
	}
	r.reserve = diskspace.NewReserve(filepath.Join(data, reserveFile), size)
	if now.Free < uint64(r.reserve.Size())/4 {
		r.release(now)
		return r, nil
	}
	if _, err := r.reserve.Make(); err != nil {
		log.Warn("could not make the reserve for a full disk", "data", data, "err", err)
	}
	return r, nil
}

// release frees the reserve and says so.
func (r *room) release(now diskspace.Room) {
	n, err := r.reserve.Release()
	if err != nil {
		r.log.Error("the disk is full, and the reserve could not be released", "data", r.data, "free", tack.FormatSize(int64(now.Free)), "err", err)
		return
	}
	if n == 0 {
		r.log.Warn("the disk is full, and there is no reserve to release: no new blocks are stored until there is room",
			"data", r.data, "free", tack.FormatSize(int64(now.Free)), "room_needed", tack.FormatSize(2*r.reserve.Size()))
		return
	}
	r.log.Warn("the disk is full: released the reserve, so that deleting pins and collecting garbage have room; no new blocks are stored until there is room",
		"data", r.data, "free", tack.FormatSize(int64(now.Free)), "released", tack.FormatSize(n), "room_needed", tack.FormatSize(2*r.reserve.Size()))
}

// diskFull is the blockstore's disk-full callback: Pebble found no room
// for a write, and retries it once this returns.
func (r *room) diskFull() {
	if r.reserve == nil || r.reserve.Spent() {
		return
	}
	now, _ := diskspace.Of(r.data)
	r.release(now)
}

// forBlocks refuses new blocks while the reserve is released.
func (r *room) forBlocks() error {
	if r.reserve == nil || !r.reserve.Spent() {
		return nil
	}
	now, err := diskspace.Of(r.data)
	if err != nil {
		return err
	}
	return &diskspace.NoRoomError{Dir: r.data, What: "storing new blocks", Free: now.Free, Need: 2 * uint64(r.reserve.Size())}
}

// remake makes the reserve again if it is spent and the disk has room.
func (r *room) remake() {
	if r.reserve == nil || !r.reserve.Spent() {
		return
	}
	if held, err := r.reserve.Make(); held {
		r.log.Info("the disk has room again: made the reserve", "data", r.data)
	} else if err != nil {
		r.log.Warn("could not make the reserve for a full disk", "data", r.data, "err", err)
	}
}

// blockOptions are the blockstore's options for this disk.
func (r *room) blockOptions() []blockstore.Option {
	return []blockstore.Option{blockstore.WithDiskFull(r.diskFull), blockstore.WithRoom(r.forBlocks)}
}

// checkSQLite returns a NoRoomError if the disk of an SQLite database at
// path has too little room to open it.
func checkSQLite(path string) error {
	return diskspace.Check(filepath.Dir(path), "opening the metadata store", sqliteRoom)
}

// watch releases the reserve when the disk fills, and makes it again
// once there is room, until ctx ends.
func (r *room) watch(ctx context.Context) {
	if r.reserve == nil {
		return
	}
	r.reserve.Watch(ctx, roomEvery, func(released bool, now diskspace.Room, err error) {
		switch {
		case released && err == nil:
			r.log.Warn("the disk is full: released the reserve, so that deleting pins and collecting garbage have room; no new blocks are stored until there is room",
				"data", r.data, "free", tack.FormatSize(int64(now.Free)), "released", tack.FormatSize(r.reserve.Size()), "room_needed", tack.FormatSize(2*r.reserve.Size()))
		case err != nil:
			r.log.Error("the reserve for a full disk", "data", r.data, "free", tack.FormatSize(int64(now.Free)), "err", err)
		default:
			r.log.Info("the disk has room again: made the reserve, new blocks are stored again", "data", r.data, "free", tack.FormatSize(int64(now.Free)))
		}
	})
}
