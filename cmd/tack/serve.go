package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	nethttp "net/http"
	"net/http/pprof"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/auth"
	"github.com/tack-ipfs/tack/blockstore"
	"github.com/tack-ipfs/tack/cluster"
	"github.com/tack-ipfs/tack/gateway"
	"github.com/tack-ipfs/tack/gc"
	"github.com/tack-ipfs/tack/http"
	"github.com/tack-ipfs/tack/metrics"
	"github.com/tack-ipfs/tack/node"
	"github.com/tack-ipfs/tack/pinner"
	"github.com/tack-ipfs/tack/unixfsimport"
	"github.com/tack-ipfs/tack/upload"
	"golang.org/x/net/netutil"
)

// Main is a running `tack serve`: the store, the blockstore, the node, the
// pinner and the HTTP server, wired together. Tests run it in-process on
// port 0.
type Main struct {
	Config         Config
	Stdout, Stderr io.Writer
	Logger         *slog.Logger
	DB             tack.Store // SQLite or PostgreSQL, as --store says
	Blocks         blockstore.Store
	Guard          *gc.Guard       // what fetches and uploads write blocks through
	cluster        *cluster.Member // the nodes sharing the store
	Node           *node.Node
	Pinner         *pinner.Pinner
	Auth           *auth.Auth
	AdminToken     string // set on the first start, when the admin account is created
	AdminPassword  string // the admin's web password, set with AdminToken
	// Metrics are this server's Prometheus metrics, on a registry of
	// their own.
	Metrics *metrics.Metrics
	// Getenv reads the environment (the S3 credentials); nil: os.Getenv.
	// ParseFlags sets it to the function it was given.
	Getenv func(string) string

	lock     *os.File
	room     *room // the reserve for a full disk
	listener net.Listener
	server   *nethttp.Server
	pprof    *nethttp.Server
	control  *nethttp.Server
	// gcSchedule runs collections on their own (see runGC).
	gcSchedule *gc.Schedule
	draining   atomic.Bool // Close has begun: /readyz answers 503
	// Prometheus metrics on --metrics-listen.
	metricsListener net.Listener
	metricsServer   *nethttp.Server
	// The gateway for browsers, on --gateway-listen.
	gatewayListener net.Listener
	gatewayServer   *nethttp.Server
	// stopGateway ends the gateway requests in flight, on both addresses.
	gatewayStop context.Context
	stopGateway context.CancelFunc
	// stopUploads ends the uploads in flight, after --drain-timeout.
	uploadsStop context.Context
	stopUploads context.CancelFunc
	pprofURL    string
	cancel      context.CancelFunc
	wg          sync.WaitGroup
	stopWork    context.CancelFunc // stops the pinner and the heartbeat
	work        sync.WaitGroup
}

// NewMain returns a Main with the default configuration.
func NewMain() *Main {
	return &Main{Config: DefaultConfig(), Stdout: os.Stdout, Stderr: os.Stderr}
}

// ParseFlags reads the serve flags and TACK_… environment variables.
func (m *Main) ParseFlags(args []string, getenv func(string) string) error {
	fs := flag.NewFlagSet("tack serve", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	bootstrap := serveFlags(fs, &m.Config)
	if err := parse(fs, args, getenv); err != nil {
		return err
	}
	m.Getenv = getenv
	return m.Config.finish(bootstrap.set)
}

// Open starts the service and returns once it is serving. Call Close to
// stop it, also when Open fails.
func (m *Main) Open(ctx context.Context) (err error) {
	c := &m.Config
	if m.Logger == nil {
		m.Logger = newLogger(c.LogFormat, m.Stderr)
	}
	m.Metrics = metrics.New()
	if err := os.MkdirAll(c.Data, 0o700); err != nil {
		return err
	}
	if m.lock, err = lockDir(c.path("serve.lock")); err != nil {
		return fmt.Errorf("%s: %w", c.Data, err)
	}
	// On a full disk the reserve goes first, so that tack can open its
	// stores, and then free room.
	if m.room, err = openRoom(c.Data, c.DiskReserve, m.Logger); err != nil {
		return err
	}
	store, err := parseStore(c.Store, c.Data)
	if err != nil {
		return err
	}
	if store.sqlite != "" {
		if err := checkSQLite(store.sqlite); err != nil {
			return err
		}
	}
	if m.DB, err = openStore(ctx, store, c.limits()); err != nil {
		return fmt.Errorf("opening the metadata store %s: %w", store, err)
	}
	getenv := m.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if m.Blocks, err = openBlocks(ctx, *c, m.DB, getenv, m.Logger, m.room.blockOptions()...); err != nil {
		return fmt.Errorf("opening the blockstore: %w", err)
	}
	if m.Guard, err = gc.NewGuard(m.Blocks, m.DB); err != nil {
		return err
	}
	// Refused uploads whose blocks the Guard could not all take back
	// call for a collection as deletions do.
	m.gcSchedule = m.newGCSchedule()
	m.Guard.Garbage = m.gcSchedule.Dirty
	// Keep lists are in the store now, where every node's collections
	// read them; an older tack kept them in <data>/keep.
	if n, err := gc.ImportKeepFiles(ctx, c.path("keep"), m.DB); err != nil {
		return err
	} else if n > 0 {
		m.Logger.Info("moved the keep lists of incomplete uploads into the store", "lists", n)
	}
	key, err := auth.SigningKey(ctx, m.DB, c.path("jwt.key"))
	if err != nil {
		return err
	}
	m.Auth = auth.New(m.DB, key)
	if err := m.bootstrapAdmin(ctx); err != nil {
		return err
	}

	m.Node, err = node.New(ctx, node.Config{
		KeyFile:             c.path("node.key"),
		Listen:              c.P2PListen,
		Announce:            c.Announce,
		Bootstrap:           c.Bootstrap,
		DHT:                 c.DHT,
		AllowPrivateOrigins: c.AllowPrivateOrigins,
		Blockstore:          m.Blocks,

		Provide:           c.Provide,
		Roots:             pinnedRoots(m.DB, m.Logger),
		ReprovideInterval: c.ReprovideInterval,
		ProvideDir:        c.path("provider"),
		Logger:            m.Logger,
	})
	if err != nil {
		return fmt.Errorf("starting the IPFS node: %w", err)
	}

	// Nodes whose --blocks name the same bucket serve each other's blocks
	// and coordinate their garbage collections; local blocks are a node's
	// own.
	blocksAt := "local"
	if c.Blocks != "" {
		blocksAt = c.Blocks
		m.Guard.SetCluster(cluster.GC(m.DB, m.Node.ID().String(), blocksAt))
	}
	m.cluster = cluster.New(m.DB, m.Guard, tack.Node{ID: m.Node.ID().String(), Blocks: blocksAt, Started: time.Now()},
		m.Node.Delegates, c.Blocks != "")
	if err := m.cluster.Save(ctx); err != nil {
		return fmt.Errorf("saving this node in the store: %w", err)
	}

	m.Pinner = pinner.New(gcPinStore{m.DB, m.gcSchedule}, pinner.Walker{Blockstore: m.Blocks, HashedByFetcher: true}, m.Node, m.Blocks.Sync, m.Node.ID().String(),
		pinner.Config{Fetches: c.Fetches, Stall: c.PinStall, Lease: c.PinLease, Yield: c.PinYield, RetryMin: c.PinRetry, Backoff: c.PinBackoff, Timeout: c.PinTimeout, MaxTime: c.PinMaxTime,
			Guard: m.Guard}, m.Logger)
	m.Metrics.WatchPinner(m.Pinner.Stats)
	m.Metrics.WatchPins(m.DB.FindUsages, metrics.DefaultPinsTTL, m.Logger)
	m.Metrics.WatchProvide(m.Node.ProvideStats)
	m.Metrics.WatchGC(m.Guard.Stats)

	if m.listener, err = net.Listen("tcp", c.Listen); err != nil {
		return err
	}
	// Past MaxConns, new connections wait in the kernel's accept queue
	// instead of each costing a goroutine and buffers.
	m.listener = netutil.LimitListener(m.listener, c.MaxConns)
	if c.PublicURL == "http://"+c.Listen && c.Listen != m.HTTPAddr() {
		// Port 0 (tests): name the port the system chose.
		c.PublicURL = "http://" + m.HTTPAddr()
	}
	m.uploadsStop, m.stopUploads = context.WithCancel(context.Background())
	uploads := &upload.Importer{Store: m.DB, Guard: m.Guard, Sync: m.Blocks.Sync, Limits: c.limits(),
		Notifier: gcNotifier{m.Pinner, m.gcSchedule}, Logger: m.Logger}
	api := &http.Server{
		Store:     m.DB,
		Auth:      m.Auth,
		Delegates: m.cluster.Delegates,
		Notifier:  gcNotifier{m.Pinner, m.gcSchedule},
		QueueNote: m.Pinner.Waiting,
		AccessURL: c.PublicURL + "/tokens",
		Logger:    m.Logger,
		RateLimit: c.RateLimit,

		MaxInFlight: c.MaxInFlight,

		Importer:   uploads,
		Files:      &unixfsimport.Importer{Uploads: uploads},
		MaxUpload:  c.MaxUpload,
		MaxUploads: c.MaxUploads,
		Stop:       m.uploadsStop,

		Metrics:   m.Metrics,
		Readiness: m.readiness(),
	}
	m.Metrics.WatchReady(api.ReadyChecks)
	if c.MetricsListen == "" {
		api.MetricsHandler = m.Metrics.Handler()
	}
	signup, _ := http.ParseSignupMode(c.Signup) // checked by Config.finish
	web := &http.Web{
		Store:         m.DB,
		Issue:         m.Auth.IssueScoped,
		HashPassword:  auth.HashPassword,
		CheckPassword: auth.CheckPassword,
		Key:           key,
		PublicURL:     c.PublicURL,
		Signup:        signup,
		AutoApprove:   c.Access == "auto",
		Limits:        c.limits(),
		Logger:        m.Logger,
		Metrics:       m.Metrics,
		Now:           c.WebClock,
		Uploads:       api,
		API:           api,

		TrustedProxies: c.TrustedProxies,
		Providing:      m.Node.ProvideStats,
		Pinner:         m.Pinner.Stats,
		GC:             m.Guard.Stats,
	}
	// Raw blocks and CARs on the API's address: anonymous, outside the
	// API's authentication, rate limits and --max-inflight, with a limit
	// of their own (see gateway.DefaultMaxInFlight).
	m.gatewayStop, m.stopGateway = context.WithCancel(context.Background())
	trustless, err := gateway.NewHandler(m.Blocks, m.gatewayConfig(false))
	if err != nil {
		return err
	}
	mountGateway := func(mux *nethttp.ServeMux) { mux.Handle("/ipfs/", m.Metrics.Gateway(trustless)) }
	m.server = &nethttp.Server{
		Handler:           api.Handler(web.Mount, mountGateway),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}

	if c.PProf != "" {
		if err := m.servePProf(c.PProf); err != nil {
			return err
		}
	}
	if c.GatewayListen != "" {
		if err := m.serveGateway(c.GatewayListen); err != nil {
			return err
		}
		web.GatewayURL = m.gatewayURL()
	}
	if c.MetricsListen != "" {
		if err := m.serveMetrics(c.MetricsListen); err != nil {
			return err
		}
	}

	if err := m.serveControl(); err != nil {
		// A data directory whose path is too long for a Unix socket, say:
		// tack serves all the same, and 'tack gc' says it cannot reach it.
		m.Logger.Warn("'tack gc' and 'tack verify' cannot reach this server", "err", err)
	}

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.cancel = cancel
	// The pinner and the node's heartbeat stop first when the node
	// drains: see Close.
	workCtx, stopWork := context.WithCancel(runCtx)
	m.stopWork = stopWork
	m.work.Add(2)
	go func() {
		defer m.work.Done()
		m.cluster.Run(workCtx, m.Logger.Warn)
	}()
	go func() {
		defer m.work.Done()
		if err := m.Pinner.Run(workCtx); err != nil {
			m.Logger.Error("pinner stopped", "err", err)
		}
	}()
	m.wg.Add(4)
	go func() {
		defer m.wg.Done()
		m.room.watch(runCtx)
	}()
	go func() {
		defer m.wg.Done()
		m.runGC(runCtx)
	}()
	go func() {
		defer m.wg.Done()
		m.runVerify(runCtx)
	}()
	go func() {
		defer m.wg.Done()
		if err := m.server.Serve(m.listener); err != nil && !errors.Is(err, nethttp.ErrServerClosed) {
			m.Logger.Error("http server stopped", "err", err)
		}
	}()
	m.Logger.Info("tack is serving", "api", "http://"+m.HTTPAddr(), "web", c.PublicURL, "peer", m.Node.ID(), "delegates", m.cluster.Delegates(), "data", c.Data)
	return nil
}

// servePProf serves net/http/pprof on its own address, never on the API's,
// so that profiles are reachable only where the operator chose.
func (m *Main) servePProf(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--pprof: %w", err)
	}
	mux := nethttp.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	m.pprof = &nethttp.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	m.pprofURL = "http://" + ln.Addr().String() + "/debug/pprof/"
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if err := m.pprof.Serve(ln); err != nil && !errors.Is(err, nethttp.ErrServerClosed) {
			m.Logger.Error("pprof server stopped", "err", err)
		}
	}()
	m.Logger.Warn("serving net/http/pprof: keep this address private", "pprof", m.pprofURL)
	return nil
}

// serveGateway serves the gateway with deserialized responses (files,
// directory listings) on its own address, and only for the host names of
// --gateway-url: content that browsers render must be a site apart from
// the web pages and their session cookies. In subdomain mode each CID has
// an origin of its own.
func (m *Main) serveGateway(addr string) error {
	// Checked by Config.finish already; again here for a Config changed
	// after it (tests).
	origin, err := m.Config.gatewayOrigin()
	if err != nil {
		return err
	}
	gc := m.gatewayConfig(true)
	gc.Origin = origin
	h, err := gateway.NewHandler(m.Blocks, gc)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--gateway-listen: %w", err)
	}
	m.gatewayListener = netutil.LimitListener(ln, m.Config.MaxConns)
	// Every path goes to the gateway: on {cid}.ipfs.HOST the content's
	// own paths start at /; on HOST, boxo answers 404 outside /ipfs/.
	m.gatewayServer = &nethttp.Server{
		Handler:           m.Metrics.Gateway(h),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if err := m.gatewayServer.Serve(m.gatewayListener); err != nil && !errors.Is(err, nethttp.ErrServerClosed) {
			m.Logger.Error("gateway server stopped", "err", err)
		}
	}()
	at := origin.ContentHost("{cid}")
	if !origin.Subdomains {
		at += "/ipfs/{cid}"
	}
	m.Logger.Info("serving the gateway for browsers", "listen", m.GatewayAddr(), "content", at)
	return nil
}

// gatewayURL is where browsers reach the gateway of --gateway-listen, for
// the pages' links: --gateway-url as given, or else the address it
// listens on.
func (m *Main) gatewayURL() string {
	if m.Config.GatewayURL != "" {
		return strings.TrimSuffix(m.Config.GatewayURL, "/")
	}
	return "http://" + m.GatewayAddr()
}

// gatewayConfig is the gateway's configuration, deserialized or not.
func (m *Main) gatewayConfig(deserialized bool) gateway.Config {
	return gateway.Config{
		Deserialized: deserialized,
		MaxInFlight:  m.Config.GatewayMaxInFlight,
		MaxBlocks:    m.Config.GatewayMaxBlocks,
		Timeout:      m.Config.GatewayTimeout,
		Stop:         m.gatewayStop,
		Logger:       m.Logger,
	}
}

// GatewayAddr returns the address of the gateway for browsers
// (--gateway-listen), or "" if there is none.
func (m *Main) GatewayAddr() string {
	if m.gatewayListener == nil {
		return ""
	}
	return m.gatewayListener.Addr().String()
}

// HTTPAddr returns the address the HTTP server listens on.
func (m *Main) HTTPAddr() string {
	if m.listener == nil {
		return ""
	}
	return m.listener.Addr().String()
}

// Close stops the service: it marks the server draining (/readyz answers
// 503), stops the pinner (whose unfinished claims go back to the queue) and
// the heartbeat, then the HTTP servers, the node and the stores.
func (m *Main) Close() error {
	// Drain: /readyz answers 503, the pinner stops claiming and gives its
	// claims back to the queue for the other nodes (or the next start),
	// and the node leaves the store's node list; then the HTTP servers
	// finish the requests in flight.
	m.Drain()
	if m.stopWork != nil {
		m.stopWork()
		m.work.Wait()
	}
	var errs []error
	m.shutdownServers()
	if m.pprof != nil {
		errs = append(errs, m.pprof.Close())
	}
	if m.metricsServer != nil {
		errs = append(errs, m.metricsServer.Close())
	}
	if m.control != nil {
		errs = append(errs, m.control.Close())
	}
	if m.cancel != nil {
		m.cancel()
	}
	m.wg.Wait()
	if m.Node != nil {
		errs = append(errs, m.Node.Close())
	}
	if m.Blocks != nil {
		errs = append(errs, m.Blocks.Close())
	}
	if m.DB != nil {
		errs = append(errs, m.DB.Close())
	}
	if m.lock != nil {
		errs = append(errs, m.lock.Close())
	}
	return errors.Join(errs...)
}

// closeGrace is how long the requests that the end of the drain stopped
// have to answer (503, or the end of a stream) and undo what they wrote,
// before their connections are closed.
const closeGrace = 5 * time.Second

// shutdownServers stops the API's and the gateway's servers: they stop
// taking connections at once, and the requests in flight have
// --drain-timeout to finish. Then uploads and gateway streams still going
// are ended (an upload not yet answered gets 503 with Retry-After, a
// stream is cut off: see http.Server.Stop and gateway.Config.Stop), and
// after closeGrace what is still open is closed.
func (m *Main) shutdownServers() {
	if m.server == nil && m.gatewayServer == nil {
		if m.gatewayListener != nil {
			m.gatewayListener.Close()
		}
		if m.listener != nil {
			m.listener.Close()
		}
		return
	}
	stop := func() {
		if m.stopGateway != nil {
			m.stopGateway()
		}
		if m.stopUploads != nil {
			m.stopUploads()
		}
	}
	drain := m.Config.DrainTimeout
	timer := time.AfterFunc(drain, func() {
		m.Logger.Warn("the drain time is over: ending the uploads and gateway streams still in flight", "drain_timeout", drain)
		stop()
	})
	defer timer.Stop()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), drain+closeGrace)
	defer cancel()
	var wg sync.WaitGroup
	for _, srv := range []*nethttp.Server{m.server, m.gatewayServer} {
		if srv == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Shutdown(ctx); err != nil {
				m.Logger.Warn("closing the connections still open after the drain", "err", err)
				srv.Close()
			}
		}()
	}
	if m.gatewayServer == nil && m.gatewayListener != nil {
		m.gatewayListener.Close()
	}
	wg.Wait()
}

// bootstrapAdmin creates the admin account with approved access on the
// first start, prints its API token and web password, and writes them to
// <data>/admin.token and <data>/admin.password.
func (m *Main) bootstrapAdmin(ctx context.Context) error {
	n, err := m.DB.CountAccounts(ctx)
	if err != nil || n > 0 {
		return err
	}
	password := rand.Text()
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	a := &tack.Account{Email: "admin", Admin: true, Access: tack.AccessApproved, PasswordHash: hash}
	if err := m.DB.CreateAccount(ctx, a); tack.ErrorCode(err) == tack.ECONFLICT {
		return nil // another node that shares the store, starting at once, made it
	} else if err != nil {
		return fmt.Errorf("creating the admin account: %w", err)
	}
	token, _, err := m.Auth.Issue(ctx, a.ID, "admin")
	if err != nil {
		return err
	}
	path := m.Config.path("admin.token")
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return err
	}
	passwordPath := m.Config.path("admin.password")
	if err := os.WriteFile(passwordPath, []byte(password+"\n"), 0o600); err != nil {
		return err
	}
	m.AdminToken, m.AdminPassword = token, password
	fmt.Fprintf(m.Stdout, "Created the account admin with pinning access.\nIts API token (also in %s):\n\n%s\n\n", path, token)
	fmt.Fprintf(m.Stdout, "Use it from Kubo:\n  ipfs pin remote service add tack %s/ %s\n\n", m.Config.PublicURL, token)
	fmt.Fprintf(m.Stdout, "Sign in to the web pages at %s/signin as admin with the password %s (also in %s);\nchange it with 'tack account password --email admin'.\n\n", m.Config.PublicURL, password, passwordPath)
	return nil
}

// lockDir takes an exclusive lock so that two servers never share a data
// directory. The CLI's account and token commands do not take it.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, errors.New("another tack serve is running on this data directory")
	}
	return f, nil
}
