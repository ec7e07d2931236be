// Package gateway serves the blocks tack holds over HTTP, as the IPFS
// HTTP gateway specifications define (https://specs.ipfs.tech/http-gateways/):
// verifiable raw blocks and CARs (the Trustless Gateway) everywhere, and,
// where the operator asks for it, files and directories as browsers want
// them (the Path Gateway).
//
// The protocol is boxo's gateway package; this package only gives it a
// backend over tack's blockstore that never asks the network for a block:
// what tack does not hold is answered 404 at once, so that the gateway is
// never an open proxy and never waits on a fetch.
package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/gateway"
	"github.com/ipfs/boxo/namesys"
	"github.com/ipfs/boxo/path"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	routinghelpers "github.com/libp2p/go-libp2p-routing-helpers"
	ci "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultMaxInFlight is the default Config.MaxInFlight.
//
// Gateway requests are limited apart from the API's --max-inflight: they
// read only the blockstore, never the metadata store, whose connections
// and memory that limit protects, and a CAR of a large DAG streams for as
// long as the client takes to read it. Sharing one limit would let a few
// slow downloads shed pin requests with 503, and a burst of pin requests
// shed downloads. A gateway request costs a goroutine and a block or two
// of memory, so the limit can be high; --max-conns bounds connections
// anyway.
const DefaultMaxInFlight = 1024

// Config configures a gateway handler.
type Config struct {
	// Deserialized also serves files, directory listings and documents
	// as browsers want them, besides raw blocks and CARs. Serve such a
	// handler only on an origin of its own: content served to browsers
	// must never share an origin with the web pages' cookies.
	Deserialized bool
	// MaxInFlight is how many gateway requests are served at once; more
	// get 429 with Retry-After. Zero means DefaultMaxInFlight.
	MaxInFlight int
	// MaxBlocks is the most blocks one request may read, each read
	// counted (see DefaultMaxBlocks); zero means DefaultMaxBlocks.
	MaxBlocks int64
	// Timeout is how long a request may go without its client taking a
	// byte of it (see DefaultTimeout); zero means DefaultTimeout.
	Timeout time.Duration
	// Stop, once done, ends every request in flight (a CAR stream is cut
	// short, as on any error) and answers new ones 503: Main.Close does
	// not wait for streams that could last hours. Nil means never.
	Stop context.Context
	// Origin, if not nil, is where browsers reach this gateway: only its
	// host names are served, each CID on a subdomain of its own if it
	// says so (see Origin).
	Origin *Origin
	// Logger gets the gateway's own log lines (a panic contained to one
	// response); nil discards them.
	Logger *slog.Logger
}

// NewHandler returns the handler of GET and HEAD /ipfs/{cid}[/path] over
// the blocks in bs. Identity CIDs are answered from the CID itself. The
// handler never fetches a block from the network, resolves no IPNS name
// and no DNSLink, and registers its metrics in a registry of its own.
func NewHandler(bs blockstore.Blockstore, c Config) (http.Handler, error) {
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.MaxBlocks <= 0 {
		c.MaxBlocks = DefaultMaxBlocks
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Stop == nil {
		c.Stop = context.Background()
	}
	reg := prometheus.NewRegistry()
	// A nil exchange makes the blockservice read the blockstore and
	// nothing else: a missing block is ipld.ErrNotFound, which boxo
	// answers with 404.
	// Every read charges the request's budget and fails once the request
	// has ended (see budgetStore).
	held := budgetStore{blockstore.NewIdStore(bs)}
	blocks := blockservice.New(held, nil)
	bb, err := gateway.NewBlocksBackend(blocks,
		gateway.WithValueStore(routinghelpers.Null{}),
		gateway.WithNameSystem(noNames{}),
		gateway.WithPrometheusRegistry(reg),
	)
	if err != nil {
		return nil, err
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	backend := &heldBackend{BlocksBackend: bb, held: held, blocks: blocks, log: log}
	conf := gateway.Config{
		DeserializedResponses: c.Deserialized,
		NoDNSLink:             true,
		// The API's address answers programs: plain-text errors.
		DisableHTMLErrors: !c.Deserialized,
		// Kept for clients (and the conformance suite's older tests) that
		// read X-Ipfs-Path; Ipfs-Uri is sent as well.
		DeprecatedXIpfsPath: true,
		// limits ends a request that makes no progress for c.Timeout,
		// and stops its work too: boxo's RetrievalTimeout answers the
		// client but leaves the handler running, and cannot break off a
		// write the client does not take.
		RetrievalTimeout:      0,
		MaxRequestDuration:    noTotalLimit,
		MaxConcurrentRequests: c.MaxInFlight,
		DiagnosticServiceURL:  "",
		MetricsRegistry:       reg,
	}
	h := gateway.NewHandler(conf, backend)
	if c.Origin != nil {
		h = c.Origin.handler(conf, backend, h)
	}
	return &limits{next: flushCARHeaders(h), maxBlocks: c.MaxBlocks, timeout: c.Timeout, stop: c.Stop}, nil
}

// noTotalLimit is boxo's MaxRequestDuration (an hour unless set): out of
// reach, since a request's time is limited without progress instead, and
// a slow client may take hours to read a large CAR.
const noTotalLimit = 10 * 365 * 24 * time.Hour

// heldBackend is boxo's BlocksBackend, except that a CAR of content tack
// does not hold, or of a path that does not exist in it, is answered 404
// before anything is streamed. boxo streams a partial (even empty) CAR
// then, which the spec allows of gateways that cannot check a path
// cheaply; tack holds every block locally, so it can, as the spec asks
// of those that can.
type heldBackend struct {
	*gateway.BlocksBackend
	held   blockstore.Blockstore
	blocks blockservice.BlockService
	log    *slog.Logger
}

// GetCAR checks that the root block is held and the path resolves (in
// linear time, see resolve), then streams the CAR (see carOf).
func (b *heldBackend) GetCAR(ctx context.Context, p path.ImmutablePath, params gateway.CarParams) (gateway.ContentPathMetadata, io.ReadCloser, error) {
	root := p.RootCid()
	has, err := b.held.Has(ctx, root)
	if err != nil {
		return gateway.ContentPathMetadata{}, nil, err
	}
	if !has {
		return gateway.ContentPathMetadata{}, nil, ipld.ErrNotFound{Cid: root}
	}
	if p.Namespace() != path.IPFSNamespace {
		return gateway.ContentPathMetadata{}, nil, errors.New("path does not have /ipfs/ prefix")
	}
	if !hasPath(p) && params.Scope == gateway.DagScopeEntity && !b.wholeFile(ctx, root, params) {
		// boxo's own: a file's entity-bytes, a HAMT's shards.
		return b.BlocksBackend.GetCAR(ctx, p, params)
	}
	var pathBlocks []cid.Cid
	var md gateway.ContentPathMetadata
	if hasPath(p) {
		md, err = b.resolve(ctx, p, func(c cid.Cid) { pathBlocks = append(pathBlocks, c) })
	} else {
		md, err = b.BlocksBackend.ResolvePath(ctx, p)
	}
	if err != nil {
		return gateway.ContentPathMetadata{}, nil, err
	}
	return md, b.carOf(ctx, p, md, pathBlocks, params), nil
}

// flushCARHeaders sends a CAR response's headers as soon as they are
// written, so that net/http streams every CAR with chunked encoding and
// no Content-Length, as the spec says of streamed CARs, even one small
// enough to fit in its buffer.
func flushCARHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&carWriter{ResponseWriter: w}, r)
	})
}

// carWriter flushes the headers of a 200 CAR response.
type carWriter struct {
	http.ResponseWriter
	wroteHeader bool
}

func (w *carWriter) WriteHeader(code int) {
	if w.wroteHeader {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.wroteHeader = true
	w.ResponseWriter.WriteHeader(code)
	if code == http.StatusOK && strings.HasPrefix(w.Header().Get("Content-Type"), "application/vnd.ipld.car") {
		http.NewResponseController(w.ResponseWriter).Flush()
	}
}

func (w *carWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *carWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// errNoNames is why noNames resolves nothing.
var errNoNames = errors.New("tack's gateway serves /ipfs/ paths only: it resolves no IPNS names and no DNSLink")

// noNames is a name system that resolves nothing, so that the gateway
// never asks the DHT or DNS about a name.
type noNames struct{}

func (noNames) Resolve(context.Context, path.Path, ...namesys.ResolveOption) (namesys.Result, error) {
	return namesys.Result{}, errors.Join(namesys.ErrResolveFailed, errNoNames)
}

func (n noNames) ResolveAsync(ctx context.Context, p path.Path, opts ...namesys.ResolveOption) <-chan namesys.AsyncResult {
	out := make(chan namesys.AsyncResult, 1)
	_, err := n.Resolve(ctx, p, opts...)
	out <- namesys.AsyncResult{Err: err}
	close(out)
	return out
}

func (noNames) Publish(context.Context, ci.PrivKey, path.Path, ...namesys.PublishOption) error {
	return errNoNames
}
