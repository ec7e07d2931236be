package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// DefaultMaxBlocks is the default Config.MaxBlocks: the most blocks one
// gateway request may read from the blockstore.
//
// A read is a visit: a block read twice (a diamond's shared child, a
// file's repeated chunk) counts twice, since each read costs as much as
// the first. A whole-DAG CAR without duplicates reads each block once, so
// it may hold 2^20 blocks: 256 GiB of 256 KiB chunks, 1 TiB of 1 MiB
// ones. A hostile DAG read for nothing (entity-bytes of a diamond-shaped
// file) took 14 CPU-seconds for 2^20 reads on the 2-core CI machine; the
// timeout ends it sooner if nothing reaches the client meanwhile.
const DefaultMaxBlocks = 1 << 20

// DefaultTimeout is the default Config.Timeout: how long a gateway
// request may go without sending its client anything.
//
// It is a time without progress, not a total: a slow client reading a
// large CAR for hours makes progress all along, and is served; a request
// that computes without sending (a path through a huge directory, a
// hostile DAG) or whose client stopped reading is ended.
const DefaultTimeout = 30 * time.Second

// MaxPathSegments is the most segments a gateway path may have after
// /ipfs/{cid}: tack.MaxDAGDepth, enough for a path to the bottom of the
// deepest DAG tack accepts. A longer path is refused with 414 before any
// block is read.
const MaxPathSegments = 1024

// writePiece is the most bytes written to a client in one go: a client
// must take a piece every Config.Timeout (4.4 KB/s for the default) for
// its request to make progress.
const writePiece = 128 << 10

var (
	errTooManyBlocks = errors.New("this request reads more blocks than the gateway allows one request (--gateway-max-blocks); ask for less: a path deeper in the DAG, dag-scope=entity or block, or entity-bytes")
	errIdle          = errors.New("this request went too long without sending anything (--gateway-timeout)")
	errShutdown      = errors.New("tack is shutting down")
	errBlockstore    = errors.New("a block could not be read from the blockstore (its storage did not answer); retry later")
)

// budget is what one gateway request may still spend; it travels in the
// request's context to the blockstore, which charges every read to it.
type budget struct {
	maxBlocks int64
	read      atomic.Int64
	// cancel ends the request's context with the cause of its end.
	cancel context.CancelCauseFunc
}

type budgetKey struct{}

// charge accounts for one block read under ctx, or says why the request
// must stop: its client went away, its time or blocks ran out, or tack is
// shutting down.
func charge(ctx context.Context) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	b, _ := ctx.Value(budgetKey{}).(*budget)
	if b == nil {
		return nil
	}
	if b.read.Add(1) > b.maxBlocks {
		b.cancel(errTooManyBlocks)
		return errTooManyBlocks
	}
	return nil
}

// budgetStore is a blockstore whose reads charge the request's budget and
// stop once its context is done: whatever reads blocks on a request's
// behalf (boxo's path resolver, its UnixFS readers, the CAR walks) ends
// at its next read when the request ends, whether or not it checks its
// context itself.
type budgetStore struct {
	blockstore.Blockstore
}

func (s budgetStore) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	if err := charge(ctx); err != nil {
		return nil, err
	}
	b, err := s.Blockstore.Get(ctx, c)
	if err != nil && !ipld.IsNotFound(err) && ctx.Err() == nil {
		// The blockstore failed (an S3 bucket that did not answer within
		// its read timeout): end the request as the limits do, so that a
		// stream is cut off where a client must notice, and a response
		// not yet started is a 503.
		if bud, _ := ctx.Value(budgetKey{}).(*budget); bud != nil {
			bud.cancel(errBlockstore)
		}
	}
	return b, err
}

func (s budgetStore) Has(ctx context.Context, c cid.Cid) (bool, error) {
	if ctx.Err() != nil {
		return false, context.Cause(ctx)
	}
	return s.Blockstore.Has(ctx, c)
}

func (s budgetStore) GetSize(ctx context.Context, c cid.Cid) (int, error) {
	if ctx.Err() != nil {
		return 0, context.Cause(ctx)
	}
	return s.Blockstore.GetSize(ctx, c)
}

// limits ends every gateway request when its client goes, when it goes
// Timeout without progress, when it has read MaxBlocks blocks, or when
// tack shuts down, and keeps error responses out of caches.
type limits struct {
	next      http.Handler
	maxBlocks int64
	timeout   time.Duration
	stop      context.Context
}

func (l *limits) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if n := pathSegments(r.URL.Path); n > MaxPathSegments {
		notCached(w.Header())
		http.Error(w, fmt.Sprintf("the path has %d segments after the CID; this gateway resolves at most %d", n, MaxPathSegments), http.StatusRequestURITooLong)
		return
	}
	if l.stop.Err() != nil {
		notCached(w.Header())
		w.Header().Set("Retry-After", "60")
		http.Error(w, errShutdown.Error(), http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	defer context.AfterFunc(l.stop, func() { cancel(errShutdown) })()
	b := &budget{maxBlocks: l.maxBlocks, cancel: cancel}
	pw := &progressWriter{ResponseWriter: w, ctx: ctx, rc: http.NewResponseController(w), timeout: l.timeout}
	pw.idle = time.AfterFunc(l.timeout, func() { pw.timedOut(cancel) })
	defer pw.finish()
	l.next.ServeHTTP(pw, r.WithContext(context.WithValue(ctx, budgetKey{}, b)))
	if pw.cutShort() {
		// boxo ended the stream with its truncation marker, but a client
		// that does not look for it would take what it got, ended by the
		// final chunk, for the whole: end the connection without it,
		// once what is buffered is sent.
		_ = pw.rc.SetWriteDeadline(time.Now().Add(time.Second))
		_ = pw.rc.Flush()
		panic(http.ErrAbortHandler)
	}
}

// pathSegments counts the segments of an /ipfs/{cid}/… path after the
// CID.
func pathSegments(p string) int {
	p = strings.Trim(p, "/")
	n := strings.Count(p, "/")
	return max(n-1, 0)
}

// notCached marks a response as one no cache may store: an error is no
// immutable content.
func notCached(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Del("Expires")
	h.Del("Last-Modified")
	h.Del("Etag")
}

// progressWriter tracks a request's progress, its bytes taken by the
// client, and rewrites its error responses: never cached, and the
// request's own limit as the reason once one ended it.
type progressWriter struct {
	http.ResponseWriter
	ctx     context.Context
	rc      *http.ResponseController
	timeout time.Duration
	idle    *time.Timer

	mu          sync.Mutex
	writing     bool // a write to the client is under way
	finished    bool // the handler returned: the connection is no longer this request's
	wroteHeader bool
	discard     bool // the handler's own error response is replaced
}

// timedOut ends a request that made no progress for the timeout, and
// breaks off a write its client is not taking.
func (w *progressWriter) timedOut(cancel context.CancelCauseFunc) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.finished {
		return
	}
	cancel(errIdle)
	if w.writing {
		_ = w.rc.SetWriteDeadline(time.Now())
	}
}

// finish is called when the handler returns.
func (w *progressWriter) finish() {
	w.idle.Stop()
	w.mu.Lock()
	w.finished = true
	w.mu.Unlock()
}

// cutShort reports whether the response started and its request ended
// before the handler returned: a stream cut off by a limit.
func (w *progressWriter) cutShort() bool {
	return w.wroteHeader && !w.discard && w.ctx.Err() != nil
}

// status is the response for a request that its own limit ended, or 0.
func (w *progressWriter) status() (int, string) {
	if w.ctx.Err() == nil {
		return 0, ""
	}
	switch cause := context.Cause(w.ctx); cause {
	case errTooManyBlocks:
		return http.StatusRequestEntityTooLarge, cause.Error()
	case errIdle:
		return http.StatusGatewayTimeout, cause.Error()
	case errShutdown, errBlockstore:
		return http.StatusServiceUnavailable, cause.Error()
	}
	return 0, ""
}

func (w *progressWriter) WriteHeader(code int) {
	if w.wroteHeader || code < 200 {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.wroteHeader = true
	if code < 400 {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	h := w.Header()
	notCached(h)
	if status, msg := w.status(); status != 0 {
		// The handler's error is what the limit did to it (a cancelled
		// read, a 500): say what happened instead.
		w.discard = true
		h.Del("Content-Length")
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("X-Content-Type-Options", "nosniff")
		if status == http.StatusServiceUnavailable {
			h.Set("Retry-After", strconv.Itoa(60))
		}
		w.ResponseWriter.WriteHeader(status)
		_, _ = w.ResponseWriter.Write([]byte(msg + "\n"))
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *progressWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.discard {
		return len(p), nil
	}
	n := 0
	for n < len(p) {
		piece := p[n:min(len(p), n+writePiece)]
		if w.ctx.Err() != nil {
			// The request has ended and its connection will be cut: what
			// is still written (boxo's truncation marker) may not wait
			// on a client that does not read.
			_ = w.rc.SetWriteDeadline(time.Now().Add(time.Second))
		}
		w.mu.Lock()
		w.writing = true
		w.mu.Unlock()
		m, err := w.ResponseWriter.Write(piece)
		w.mu.Lock()
		w.writing = false
		w.mu.Unlock()
		n += m
		if err != nil {
			return n, err
		}
		w.idle.Reset(w.timeout)
	}
	return n, nil
}

// Flush sends what is buffered, as progress.
func (w *progressWriter) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.discard || w.ctx.Err() != nil {
		return
	}
	w.mu.Lock()
	w.writing = true
	w.mu.Unlock()
	err := w.rc.Flush()
	w.mu.Lock()
	w.writing = false
	w.mu.Unlock()
	if err == nil {
		w.idle.Reset(w.timeout)
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *progressWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
