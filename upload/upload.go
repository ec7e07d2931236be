// Package upload imports CARs: it checks and stores the blocks a client
// sends through a session of the gc.Guard, walks each root's DAG for
// completeness, and makes the account's pin requests, pinned if the DAG is
// whole and queued (its blocks kept for it) if not. It is the library
// behind POST /car and the pins page's form; http only admits the request
// and maps the errors to statuses. ImportDAG does the same for a DAG that
// tack builds as the body arrives (unixfsimport's files and folders).
package upload

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"slices"
	"sync"

	"github.com/google/uuid"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	car "github.com/ipld/go-car/v2"
	"github.com/multiformats/go-multicodec"
	"github.com/multiformats/go-multihash"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/blockstore"
	"github.com/tack-ipfs/tack/gc"
)

// Limits of a CAR's header.
const (
	// MaxCARRoots is the most roots a CAR may name: each becomes a
	// request.
	MaxCARRoots = 100
	// maxCARHeader bounds the header's size in bytes.
	maxCARHeader = 64 << 10
)

// carContentType is the media type of a CAR.
const carContentType = "application/vnd.ipld.car"

// Buffers of an upload: blocks are read into arenas of uploadArena bytes,
// each handed to the writer as a batch once the next block does not fit,
// and up to uploadArenas of them are filled, waiting or being hashed and
// written at once, by uploadWriters goroutines beside the one reading the
// body. A block larger than an arena grows the arena, for the rest of the
// upload, to uploadArenaMax, which holds any block: an upload of 1 MiB
// blocks then stores them two at a time, as it did before arenas were
// cut to 512 KiB.
//
// Small arenas keep memory down: each batch of small blocks is copied
// into a Pebble batch, then into the write-ahead log's 32 KiB blocks
// (which the log keeps for reuse) and its memtable. Arenas of
// uploadArenaMax from the start raised the peak RSS of a 1 GiB CAR of
// 1 KiB blocks by 24-29 MiB (188 and 196 MiB against 164 and 168), for
// no more speed; arenas of 4 MiB cost 16 MiB more again.
const (
	uploadArena    = 512 << 10
	uploadArenaMax = tack.MaxBlockSize + 64<<10
	uploadArenas   = 4
	uploadWriters  = 2
	uploadBuffer   = 256 << 10 // the body's read buffer
)

// Importer imports CARs into its Guard's blockstore and its Store. Set
// its fields, then call Import from any number of goroutines. An
// Importer must not be copied after first use.
type Importer struct {
	// Store keeps the requests, the DAGs recorded whole and the accounts'
	// usage.
	Store tack.Store
	// Guard is the blockstore that uploads write to, through its
	// sessions. Required.
	Guard *gc.Guard
	// Sync makes the blocks written so far durable; an upload calls it
	// before it records a DAG whole. Nil skips it (tests).
	Sync func(ctx context.Context) error
	// Limits are the limits of accounts that have none of their own: an
	// upload is refused with EQUOTA once it holds more than the account's
	// room.
	Limits tack.Limits
	// Notifier, if not nil, is told when an upload queues a request.
	Notifier tack.Notifier
	// Logger receives what a failed upload could not take back (its
	// blocks, its requests). Nil discards it.
	Logger *slog.Logger

	keyLocks [keyStripes]sync.Mutex
}

var _ tack.CARImporter = (*Importer)(nil)

// Body is a reader that can fail on its own account, as a request body
// that is too large, too slow or cut off: Err returns that failure, nil
// if none. When Import's reader is a Body, a CAR that cannot be read is
// reported with the Body's failure rather than with what it did to the
// CAR.
type Body interface {
	io.Reader
	Err() error
}

// upload is one CAR being stored.
type upload struct {
	im   *Importer
	acct *tack.Account
	sess *gc.Session
	idx  *carIndex

	blocks int64 // blocks read (identity blocks too)
	bytes  int64 // bytes of the blocks stored
	room   int64 // bytes the account may still store; -1: no limit
	kept   int64 // of the account's bytes, those its incomplete uploads keep
	// recorded says that the store may name the upload's blocks (a DAG
	// recorded whole, a keep list): from then on they are not taken back.
	recorded bool
}

// Import reads the CAR in r, checks and stores every block through a
// session of the Guard, and makes a request of the account for each root:
// pinned if its DAG is whole, queued (with the CAR's blocks kept for it)
// if not. A CAR that breaks a rule, or is cut off, stores no request, and
// the blocks it stored new are deleted again (gc.Session.Undo).
//
// Refusals are *tack.Error: EINVALID for a CAR or a DAG that breaks a
// rule, EQUOTA past the account's room or its pending requests, and a
// Body's own failure as it is. Failures of the blockstore are wrapped in
// tack.BlockstoreError; those of a full disk or a bucket that does not
// answer hold a tack.Unavailable error (blockstore.Unavailable): a 503.
func (im *Importer) Import(ctx context.Context, acct *tack.Account, r io.Reader, opts tack.UploadOptions) (reqs []*tack.PinRequest, err error) {
	return im.run(ctx, acct, func(u *upload) ([]cid.Cid, tack.UploadOptions, error) {
		body, _ := r.(Body)
		roots, err := u.read(ctx, &carStream{r: r}, body)
		return roots, opts, err
	})
}

// run is an upload of the account: store, through a session of the
// Guard, the blocks that read stores and pin the roots it returns, with
// the options it returns. If read or the pinning fails, the blocks it
// stored new are deleted again (gc.Session.Undo).
func (im *Importer) run(ctx context.Context, acct *tack.Account, read func(u *upload) ([]cid.Cid, tack.UploadOptions, error)) (reqs []*tack.PinRequest, err error) {
	u := &upload{im: im, acct: acct, room: -1, idx: newCARIndex()}
	if limit := acct.Limits(im.Limits).MaxBytes; limit > 0 {
		usage, err := im.Store.FindUsage(ctx, acct.ID)
		if err != nil {
			return nil, err
		}
		// Blocks that incomplete uploads keep count until their DAG is
		// whole (then its size counts) or given up.
		u.room = max(limit-usage.Stored(), 0)
		u.kept = usage.Kept
	}
	u.sess = im.Guard.UploadSession()
	// The session's blocks are protected until the requests that need
	// them are stored (or Keep lists them): only then may it close. An
	// upload refused or cut off before it recorded anything takes back
	// the blocks it stored new, at once (read waits for its writes).
	defer u.sess.Close()
	defer func() {
		if err == nil {
			return
		}
		if u.recorded {
			u.sess.Abandon()
			return
		}
		if n, e := u.sess.Undo(context.WithoutCancel(ctx)); e != nil {
			im.logger().Error("deleting the blocks of a refused upload", "err", e)
		} else if n > 0 {
			im.logger().Debug("deleted the blocks of a refused upload", "blocks", n)
		}
	}()

	roots, opts, err := read(u)
	if err != nil {
		return nil, err
	}
	return u.pin(ctx, roots, opts)
}

func (im *Importer) logger() *slog.Logger {
	if im.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return im.Logger
}

// read reads and stores the CAR's blocks, and returns its roots.
func (u *upload) read(ctx context.Context, cs *carStream, body Body) ([]cid.Cid, error) {
	br := bufio.NewReaderSize(cs, uploadBuffer)
	cr, err := car.NewBlockReader(br, car.MaxAllowedHeaderSize(maxCARHeader))
	if err != nil {
		return nil, u.bodyError(cs, body, err, "the body is not a CAR: its header cannot be read")
	}
	roots, err := checkRoots(cr.Roots)
	if err != nil {
		return nil, err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := newBatchWriter(ctx, u.sess)
	defer w.wait() // on an early return too: no write outlives the session
	batch := w.get()
	for i := 0; ; i++ {
		c, r, n, err := cr.NextReader()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, u.bodyError(cs, body, err, fmt.Sprintf("block #%d of the CAR cannot be read", i))
		}
		if err := checkBlockCID(c, n); err != nil {
			return nil, tack.Errorf(tack.EINVALID, "block #%d (%s) of the CAR is refused: %v", i, c, err)
		}
		if len(batch.buf)+int(n) > cap(batch.buf) {
			if len(batch.blocks) > 0 {
				if batch, err = w.put(batch); err != nil {
					return nil, err
				}
			}
			if int(n) > cap(batch.buf) {
				batch.buf = make([]byte, 0, uploadArenaMax)
			}
		}
		data := batch.buf[len(batch.buf) : len(batch.buf)+int(n)]
		if _, err := io.ReadFull(r, data); err != nil {
			return nil, u.bodyError(cs, body, err, fmt.Sprintf("block #%d (%s) of the CAR is cut short", i, c))
		}
		u.blocks++
		if c.Prefix().MhType == multihash.IDENTITY {
			// Its data is its CID: checked here, never stored.
			if err := checkData(c, data); err != nil {
				return nil, tack.Errorf(tack.EINVALID, "block #%d (%s) of the CAR is refused: %v", i, c, err)
			}
			continue
		}
		u.bytes += int64(n)
		if u.room >= 0 && u.bytes > u.room {
			return nil, u.overQuota()
		}
		batch.buf = batch.buf[:len(batch.buf)+int(n)]
		b, _ := blocks.NewBlockWithCid(data, c)
		batch.blocks = append(batch.blocks, b)
		batch.pos = append(batch.pos, i)
		u.idx.add(c, int(n), i)
	}
	if _, err := w.put(batch); err != nil {
		return nil, err
	}
	if err := w.wait(); err != nil {
		return nil, err
	}
	// A CARv2 may carry an index after its data: read it off (it counts
	// against the limit), so that the connection can serve another request.
	if _, err := io.Copy(io.Discard, br); err != nil {
		return nil, u.bodyError(cs, body, err, "the CAR's trailer cannot be read")
	}
	if u.blocks == 0 {
		return nil, tack.Errorf(tack.EINVALID, "the CAR holds no blocks")
	}
	u.idx.sort()
	return roots, nil
}

// overQuota is the refusal of an upload that holds more than the
// account's room.
func (u *upload) overQuota() error {
	return tack.Errorf(tack.EQUOTA, "this upload holds more than the %d bytes this account may still store (its limit is %d bytes, %d of them held by incomplete uploads until their DAGs are whole or their requests deleted); delete pins or ask the operator for more room",
		u.room, u.acct.Limits(u.im.Limits).MaxBytes, u.kept)
}

// bodyError is the error of a CAR that cannot be read: the body's own
// error if it failed (too large, too slow, cut off), a truncated CAR if
// the body ended early, and otherwise a malformed CAR, described by what.
func (u *upload) bodyError(cs *carStream, body Body, err error, what string) error {
	if body != nil && body.Err() != nil {
		return body.Err()
	}
	if tack.ErrorCode(err) != tack.EINTERNAL {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if cs.eof && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)) {
		if cs.n == 0 {
			return tack.Errorf(tack.EINVALID, "the body is empty: send a CAR (%s)", carContentType)
		}
		return tack.Errorf(tack.EINVALID, "%s: the CAR ends after %d bytes, in the middle of it (a truncated CAR?)", what, cs.n)
	}
	return tack.Errorf(tack.EINVALID, "%s: %v", what, err)
}

// carStream counts the bytes of a CAR and notes its end.
type carStream struct {
	r   io.Reader
	n   int64
	eof bool
}

func (c *carStream) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err == io.EOF {
		c.eof = true
	}
	return n, err
}

// checkRoots checks the roots of a CAR: one at least, at most
// MaxCARRoots, each a CID that POST /pins would take. A root named twice
// counts once.
func checkRoots(roots []cid.Cid) ([]cid.Cid, error) {
	if len(roots) == 0 {
		return nil, tack.Errorf(tack.EINVALID, "the CAR names no roots: tack pins the DAGs of a CAR's roots, so a CAR needs at least one (ipfs dag export writes it)")
	}
	if len(roots) > MaxCARRoots {
		return nil, tack.Errorf(tack.EINVALID, "the CAR names %d roots; tack takes at most %d in one CAR", len(roots), MaxCARRoots)
	}
	seen := map[string]bool{}
	var out []cid.Cid
	for i, c := range roots {
		if _, err := tack.ParseCID(c.String()); err != nil {
			return nil, tack.Errorf(tack.EINVALID, "root #%d of the CAR: %s", i, tack.ErrorMessage(err))
		}
		if k := tack.ContentKey(c); !seen[k] {
			seen[k] = true
			out = append(out, c)
		}
	}
	return out, nil
}

// checkBlockCID checks a block's CID and size before its data is read.
func checkBlockCID(c cid.Cid, n uint64) error {
	if codec := c.Prefix().Codec; !tack.CodecAllowed(codec) {
		return fmt.Errorf("it uses codec %s; tack accepts raw, dag-pb, dag-cbor and dag-json", tack.CodecName(codec))
	}
	if err := tack.CheckHash(c); err != nil {
		return err
	}
	if n > tack.MaxBlockSize {
		return fmt.Errorf("it is %d bytes; tack accepts blocks of at most %d bytes (2 MiB)", n, tack.MaxBlockSize)
	}
	return nil
}

// checkData hashes a block and compares the hash with its CID.
func checkData(c cid.Cid, data []byte) error {
	h := c.Hash()
	p := c.Prefix()
	if p.MhType == multihash.SHA2_256 && p.MhLength == sha256.Size {
		// The common case, without the allocations of multihash.Sum.
		sum := sha256.Sum256(data)
		if bytes.Equal(h[len(h)-sha256.Size:], sum[:]) {
			return nil
		}
		return errors.New("its data does not match its CID (the sha2-256 hash differs)")
	}
	sum, err := multihash.Sum(data, p.MhType, p.MhLength)
	if err != nil {
		return fmt.Errorf("its hash cannot be checked: %v", err)
	}
	if !bytes.Equal(sum, h) {
		return fmt.Errorf("its data does not match its CID (the %s hash differs)", multihash.Codes[p.MhType])
	}
	return nil
}

// pin makes a request of the account for each root: pinned at once if
// the DAG is whole, queued if not. A request the account already has for
// the same DAG (queued, pinning or pinned) is reused, so that the shards
// of one DAG complete one request. If a request cannot be stored, those
// this upload created are deleted again.
//
// Uploads of the same DAGs take turns here (in this process), so that
// shards of one DAG sent at once see each other's blocks and make one
// request.
func (u *upload) pin(ctx context.Context, roots []cid.Cid, opts tack.UploadOptions) (reqs []*tack.PinRequest, err error) {
	unlock := u.im.lockKeys(roots)
	defer unlock()
	type plan struct {
		root     cid.Cid
		dag      *tack.DAG // nil: incomplete
		existing *tack.PinRequest
	}
	plans := make([]plan, len(roots))
	whole := false
	for i, root := range roots {
		d, err := u.walk(ctx, root)
		if err != nil {
			return nil, err
		}
		plans[i] = plan{root: root, dag: d}
		whole = whole || d != nil
		found, _, err := u.im.Store.FindPins(ctx, tack.PinFilter{
			AccountID: u.acct.ID,
			Keys:      []string{tack.ContentKey(root)},
			Statuses:  []tack.Status{tack.StatusQueued, tack.StatusPinning, tack.StatusPinned},
			Limit:     1,
		})
		if err != nil {
			return nil, err
		}
		if len(found) > 0 {
			plans[i].existing = found[0]
		}
	}
	// Blocks are durable before any DAG is recorded whole, as a fetch's.
	if whole && u.im.Sync != nil {
		if err := u.im.Sync(ctx); err != nil {
			return nil, tack.BlockstoreError{Err: blockstore.Unavailable(fmt.Errorf("syncing the blockstore: %w", err))}
		}
	}

	var created []string
	defer func() {
		if err == nil {
			return
		}
		for _, id := range created {
			if e := u.im.Store.DeletePin(context.WithoutCancel(ctx), u.acct.ID, id); e != nil {
				u.im.logger().Error("deleting the request of a failed upload", "id", id, "err", e)
			}
		}
	}()
	queued := false
	u.recorded = true
	for _, p := range plans {
		key := tack.ContentKey(p.root)
		if p.dag != nil {
			if err := u.im.Store.CompleteDAG(ctx, p.dag); err != nil {
				return nil, err
			}
		} else if err := u.sess.Keep(ctx, u.acct.ID, key); err != nil {
			return nil, tack.BlockstoreError{Err: err}
		}
		if p.existing != nil {
			req, err := u.im.Store.FindPinByID(ctx, u.acct.ID, p.existing.ID)
			if err != nil {
				return nil, err
			}
			reqs = append(reqs, req)
			continue
		}
		req := &tack.PinRequest{
			ID:        uuid.NewString(),
			AccountID: u.acct.ID,
			Pin:       tack.Pin{CID: p.root.String(), Name: opts.Name, Origins: opts.Origins, Meta: opts.Meta},
			Key:       key,
			Status:    tack.StatusQueued,
		}
		if err := u.im.Store.CreatePin(ctx, req); err != nil {
			return nil, err
		}
		created = append(created, req.ID)
		queued = queued || req.Status == tack.StatusQueued
		reqs = append(reqs, req)
	}
	if queued && u.im.Notifier != nil {
		u.im.Notifier.Queued()
	}
	return reqs, nil
}

// keyStripes is how many locks the content keys of uploads share.
const keyStripes = 64

// lockKeys takes the locks of the roots' content keys, in order, and
// returns what releases them.
func (im *Importer) lockKeys(roots []cid.Cid) (unlock func()) {
	var stripes []int
	for _, r := range roots {
		h := fnv.New32a()
		h.Write([]byte(tack.ContentKey(r)))
		stripes = append(stripes, int(h.Sum32()%keyStripes))
	}
	slices.Sort(stripes)
	stripes = slices.Compact(stripes)
	for _, i := range stripes {
		im.keyLocks[i].Lock()
	}
	return func() {
		for _, i := range stripes {
			im.keyLocks[i].Unlock()
		}
	}
}

// batch is a batch of blocks whose data lies in one arena.
type batch struct {
	buf    []byte
	blocks []blocks.Block
	pos    []int // each block's index in the CAR
}

// batchWriter hashes and stores batches of blocks beside the reading, so
// that reading, hashing and the disk work at once. A block whose data does
// not match its CID is never stored: the batch that holds it is dropped
// and the upload fails.
type batchWriter struct {
	ctx  context.Context
	sess *gc.Session
	free chan *batch
	full chan *batch
	done chan struct{}
	once sync.Once
	mu   sync.Mutex
	err  error // the first failure to store
}

func (w *batchWriter) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func newBatchWriter(ctx context.Context, sess *gc.Session) *batchWriter {
	w := &batchWriter{ctx: ctx, sess: sess, free: make(chan *batch, uploadArenas), full: make(chan *batch, uploadArenas), done: make(chan struct{})}
	for range uploadArenas {
		w.free <- &batch{buf: make([]byte, 0, uploadArena)}
	}
	var wg sync.WaitGroup
	for range uploadWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run()
		}()
	}
	go func() {
		wg.Wait()
		close(w.done)
	}()
	return w
}

func (w *batchWriter) run() {
	for b := range w.full {
		if w.failed() == nil {
			if err := w.write(b); err != nil {
				w.mu.Lock()
				if w.err == nil {
					w.err = err
				}
				w.mu.Unlock()
			}
		}
		clear(b.blocks)
		b.blocks, b.buf, b.pos = b.blocks[:0], b.buf[:0], b.pos[:0]
		w.free <- b
	}
}

func (w *batchWriter) write(b *batch) error {
	for i, blk := range b.blocks {
		if err := checkData(blk.Cid(), blk.RawData()); err != nil {
			return tack.Errorf(tack.EINVALID, "block #%d (%s) of the CAR is refused: %v", b.pos[i], blk.Cid(), err)
		}
	}
	if err := w.sess.PutMany(w.ctx, b.blocks); err != nil {
		return tack.BlockstoreError{Err: blockstore.Unavailable(fmt.Errorf("storing blocks: %w", err))}
	}
	return nil
}

// get returns an empty batch.
func (w *batchWriter) get() *batch { return <-w.free }

// put hands a batch to the writer and returns an empty one, or the error
// that stopped the writer.
func (w *batchWriter) put(b *batch) (*batch, error) {
	if len(b.blocks) > 0 {
		w.full <- b
	} else {
		w.free <- b
	}
	select {
	case b := <-w.free:
		if err := w.failed(); err != nil {
			return nil, err
		}
		return b, nil
	case <-w.ctx.Done():
		return nil, w.ctx.Err()
	}
}

// wait waits for every batch handed over to be stored.
func (w *batchWriter) wait() error {
	w.stop()
	<-w.done
	if err := w.failed(); err != nil {
		return err
	}
	return w.ctx.Err()
}

// stop ends the writer once it has stored what it was given.
func (w *batchWriter) stop() { w.once.Do(func() { close(w.full) }) }

// isRaw says whether blocks of the CID have no links.
func isRaw(c cid.Cid) bool { return c.Prefix().Codec == uint64(multicodec.Raw) }
