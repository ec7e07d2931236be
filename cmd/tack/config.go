package main

import (
	"flag"
	"fmt"
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/blockstore/s3"
	"github.com/tack-ipfs/tack/gateway"
	"github.com/tack-ipfs/tack/http"
	"github.com/tack-ipfs/tack/node"
)

// Config is the configuration of `tack serve`. Every field has a flag and
// a TACK_… environment variable; flags win over the environment, which
// wins over the defaults.
type Config struct {
	Data                string        // --data: the data directory
	Store               string        // --store: the metadata store's URL; empty: SQLite in the data directory
	Listen              string        // --listen: HTTP host:port
	PublicURL           string        // --public-url: the address users reach the web pages at
	P2PListen           []string      // --p2p-listen: libp2p listen multiaddrs
	Announce            []string      // --announce: multiaddrs to announce (and return as delegates)
	Bootstrap           []string      // --bootstrap: peers to join the network through; empty: none
	DHT                 string        // --dht: auto, client, server or off
	AllowPrivateOrigins bool          // --allow-private-origins: dial loopback and LAN origins
	Fetches             int           // --fetches: DAGs fetched at once
	PinTimeout          time.Duration // --pin-timeout: a request without progress for this long, over all attempts, fails
	PinStall            time.Duration // --pin-stall: an attempt that receives no block for this long steps aside
	PinLease            time.Duration // --pin-lease: how long a claim outlives a node that died holding it
	PinYield            time.Duration // --pin-yield: an attempt that received nothing gives way this soon when requests wait
	PinRetry            time.Duration // --pin-retry: the first delay before a request that stepped aside is tried again
	PinBackoff          time.Duration // --pin-backoff: how long the pinner stops claiming after storing blocks failed
	PinMaxTime          time.Duration // --pin-max-time: a fetch still running after this long fails
	MaxPending          int64         // --max-pending: default cap on an account's queued plus pinning requests
	MaxBytes            int64         // --max-bytes: default cap on the bytes of an account's pinned DAGs
	Signup              string        // --signup: open, invite or closed
	Access              string        // --access: request (the operator approves) or auto

	RateLimit   http.RateLimit // --rate-limit: each account's API requests, RATE[/s][,BURST] or off
	MaxInFlight int            // --max-inflight: API requests served at once; more are shed with 503
	MaxConns    int            // --max-conns: HTTP connections open at once
	MaxUpload   int64          // --max-upload: bytes of one CAR upload
	MaxUploads  int            // --max-uploads: CAR uploads served at once
	MinFree     int64          // --min-free: bytes free on the data directory's disk below which /readyz says not ready
	PProf       string         // --pprof: host:port to serve net/http/pprof on; empty: off
	GCInterval  time.Duration  // --gc-interval: how often garbage is collected when none was seen made; 0: never on its own
	GCDelay     time.Duration  // --gc-delay: how soon after garbage was made (a pin deleted or replaced, an upload refused) a collection frees it
	VerifyRate  int            // --verify-rate: blocks a second the background verify walk checks; 0: off

	GatewayListen      string        // --gateway-listen: host:port of the gateway for browsers (deserialized responses); empty: off
	GatewayURL         string        // --gateway-url: where browsers reach that gateway, http(s)://HOST[:PORT]; empty: http://<gateway-listen>
	GatewayMode        string        // --gateway-mode: subdomain ({cid}.ipfs.HOST) or path (HOST/ipfs/{cid}); empty: subdomain for a host name, path for an IP address
	GatewayMaxInFlight int           // --gateway-max-inflight: gateway requests served at once, on each address; more get 429
	GatewayMaxBlocks   int64         // --gateway-max-blocks: blocks one gateway request may read, each read counted
	GatewayTimeout     time.Duration // --gateway-timeout: how long a gateway request may go without its client taking a byte

	DrainTimeout time.Duration // --drain-timeout: how long uploads and gateway streams in flight may go on after SIGTERM

	TrustedProxies []netip.Prefix // --trusted-proxies: reverse proxies whose X-Forwarded-For names the client

	Provide           string        // --provide: all (every block) or roots, announced on the DHT
	ReprovideInterval time.Duration // --reprovide-interval: how often every provided key is announced again

	MetricsListen string // --metrics-listen: host:port serving /metrics to anyone, instead of the API's address to operators' tokens; empty: off
	LogFormat     string // --log-format: text or json
	Blocks        string // --blocks: where blocks are stored; empty: <data>/blocks, or s3://bucket/prefix?endpoint=…
	BlocksCache   int64  // --blocks-cache: bytes of hot blocks cached on the local disk in front of S3; 0: none
	DiskReserve   int64  // --disk-reserve: bytes of the reserve released when the disk fills; AutoReserve: 1/32 of the disk, 8–256 MiB; 0: none

	// WebClock is the web pages' clock (sessions, links, the sign-in
	// limits); nil is the wall clock. Not a flag: tests set it, so that a
	// bucket does not refill while a loaded machine runs them.
	WebClock tack.Clock
}

// DefaultConfig returns the embedded defaults: everything under
// ./tack-data, HTTP on 127.0.0.1:8080, libp2p on port 4001.
func DefaultConfig() Config {
	return Config{
		Data:       "tack-data",
		Listen:     "127.0.0.1:8080",
		P2PListen:  []string{"/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/udp/4001/quic-v1"},
		DHT:        "auto",
		Fetches:    256,
		PinTimeout: 24 * time.Hour,
		PinStall:   time.Minute,
		PinLease:   30 * time.Second,
		PinYield:   5 * time.Second,
		PinRetry:   time.Minute,
		PinBackoff: time.Minute,
		PinMaxTime: 24 * time.Hour,
		MaxPending: 1_000_000,
		Signup:     "open",
		Access:     "request",

		RateLimit:   http.RateLimit{Rate: http.DefaultRate, Burst: http.DefaultBurst},
		MaxInFlight: http.DefaultMaxInFlight,
		MaxConns:    DefaultMaxConns,
		GCInterval:  24 * time.Hour,
		GCDelay:     2 * time.Minute,
		VerifyRate:  1000,

		Provide:           node.ProvideAll,
		ReprovideInterval: node.DefaultReprovideInterval,

		LogFormat:   "text",
		BlocksCache: DefaultBlocksCache,
		DiskReserve: AutoReserve,

		GatewayMaxInFlight: gateway.DefaultMaxInFlight,
		GatewayMaxBlocks:   gateway.DefaultMaxBlocks,
		GatewayTimeout:     gateway.DefaultTimeout,
		DrainTimeout:       DefaultDrainTimeout,
		MaxUpload:          http.DefaultMaxUpload,
		MaxUploads:         http.DefaultMaxUploads,
		MinFree:            DefaultMinFree,
	}
}

// AutoReserve is --disk-reserve auto: the reserve is 1/32 of the data
// directory's disk, between 8 MiB and 256 MiB.
const AutoReserve = -1

// DefaultDrainTimeout is the default of --drain-timeout: with the few
// seconds tack takes to close after it, below the 30 seconds a supervisor
// (Kubernetes, systemd's default 90) commonly waits before SIGKILL.
const DefaultDrainTimeout = 20 * time.Second

// DefaultMinFree is the default of --min-free.
const DefaultMinFree = 1 << 30

// DefaultBlocksCache is the default of --blocks-cache.
const DefaultBlocksCache = 1 << 30

// DefaultMaxConns is the default of --max-conns. An idle keep-alive
// connection costs the server a goroutine and its buffers, some 10 KiB.
const DefaultMaxConns = 4096

// list is a comma-separated flag value.
type list struct {
	v   *[]string
	set bool
}

func (l *list) String() string {
	if l.v == nil {
		return ""
	}
	return strings.Join(*l.v, ",")
}

func (l *list) Set(s string) error {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	*l.v = out
	l.set = true
	return nil
}

// rateLimit is the value of --rate-limit.
type rateLimit struct{ v *http.RateLimit }

func (r rateLimit) String() string {
	if r.v == nil {
		return ""
	}
	return r.v.String()
}

func (r rateLimit) Set(s string) error {
	l, err := http.ParseRateLimit(s)
	if err != nil {
		return fmt.Errorf("--rate-limit %w", err)
	}
	*r.v = l
	return nil
}

// trustedProxies is the value of --trusted-proxies.
type trustedProxies struct{ v *[]netip.Prefix }

func (t trustedProxies) String() string {
	if t.v == nil {
		return ""
	}
	var parts []string
	for _, p := range *t.v {
		parts = append(parts, p.String())
	}
	return strings.Join(parts, ",")
}

func (t trustedProxies) Set(s string) error {
	p, err := http.ParseTrustedProxies(s)
	if err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	*t.v = p
	return nil
}

// serveFlags binds the serve configuration to a flag set.
func serveFlags(fs *flag.FlagSet, c *Config) (bootstrap *list) {
	fs.StringVar(&c.Data, "data", c.Data, "data directory (metadata, blocks, keys)")
	fs.StringVar(&c.Store, "store", c.Store, storeHelp)
	fs.StringVar(&c.Listen, "listen", c.Listen, "HTTP listen address, host:port")
	fs.StringVar(&c.PublicURL, "public-url", c.PublicURL, "URL users reach this server at (default http://<listen>)")
	fs.Var(&list{v: &c.P2PListen}, "p2p-listen", "libp2p listen multiaddrs, comma-separated")
	fs.Var(&list{v: &c.Announce}, "announce", "multiaddrs to announce and return as delegates, comma-separated (default: the listen addresses)")
	bootstrap = &list{v: &c.Bootstrap}
	fs.Var(bootstrap, "bootstrap", "bootstrap peers, comma-separated, or none (default: the public IPFS bootstrap peers)")
	fs.StringVar(&c.DHT, "dht", c.DHT, "Kademlia DHT mode: auto, client, server or off")
	fs.BoolVar(&c.AllowPrivateOrigins, "allow-private-origins", c.AllowPrivateOrigins, "dial loopback and private-network origins (for LANs and tests)")
	fs.IntVar(&c.Fetches, "fetches", c.Fetches, "DAGs fetched at once (they share one budget of blocks in flight)")
	fs.DurationVar(&c.PinTimeout, "pin-timeout", c.PinTimeout, "a pin fails after this long without progress, over all its attempts")
	fs.DurationVar(&c.PinStall, "pin-stall", c.PinStall, "an attempt that receives no block for this long steps aside and is tried again later")
	fs.DurationVar(&c.PinLease, "pin-lease", c.PinLease, "how long a node's claim on a pin request outlives the node if it dies: another node takes the request over after this (renewed every 2s while alive; at least 5s)")
	fs.DurationVar(&c.PinYield, "pin-yield", c.PinYield, "while every fetch is taken and requests wait, an attempt that has received no block gives way after this long")
	fs.DurationVar(&c.PinBackoff, "pin-backoff", c.PinBackoff, "how long the pinner stops claiming requests after storing a DAG's blocks failed (a full disk, a bucket or metadata store down); the requests go back to the queue")
	fs.DurationVar(&c.PinRetry, "pin-retry", c.PinRetry, "the first delay before a request that stepped aside is tried again; it doubles with each attempt, up to 1h")
	fs.Int64Var(&c.MaxPending, "max-pending", c.MaxPending, "an account's queued plus pinning requests, unless the operator set its own (0: no limit)")
	fs.Var(sizeFlag{&c.MaxBytes}, "max-bytes", "bytes of an account's pinned DAGs, like 500GB or 2TiB, unless the operator set its own (0: no limit)")
	fs.DurationVar(&c.PinMaxTime, "pin-max-time", c.PinMaxTime, "a pin fails if its fetch is still running after this long")
	fs.StringVar(&c.Signup, "signup", c.Signup, "who may sign up on the web pages: open, invite (by the operator's links) or closed")
	fs.StringVar(&c.Access, "access", c.Access, "pinning access: request (an operator approves each account) or auto (every account at once)")
	fs.Var(rateLimit{&c.RateLimit}, "rate-limit", "API requests per account: RATE[/s][,BURST] (a token bucket), or off")
	fs.IntVar(&c.MaxInFlight, "max-inflight", c.MaxInFlight, "API requests served at once; more wait briefly, then get 503 with Retry-After")
	fs.IntVar(&c.MaxConns, "max-conns", c.MaxConns, "HTTP connections open at once; more wait in the kernel's accept queue")
	fs.Var(sizeFlag{&c.MaxUpload}, "max-upload", "bytes of one CAR upload (POST /car), like 32GiB; more gets 413")
	fs.IntVar(&c.MaxUploads, "max-uploads", c.MaxUploads, "CAR uploads served at once, apart from --max-inflight; more get 503 with Retry-After")
	fs.Var(sizeFlag{&c.MinFree}, "min-free", "bytes free on the data directory's disk, like 1GiB, below which /readyz says the node is not ready for writes (0: no check)")
	fs.StringVar(&c.PProf, "pprof", c.PProf, "serve net/http/pprof on this host:port, for profiling (default off; keep it private)")
	fs.DurationVar(&c.GCInterval, "gc-interval", c.GCInterval, "how often to collect garbage when this process saw none made (deleted by another process or node, failed fetches) (0: only with 'tack gc', and --gc-delay is off too)")
	fs.DurationVar(&c.GCDelay, "gc-delay", c.GCDelay, "how soon after a pin is deleted or replaced, a request fails or an upload is refused, a collection frees the blocks nothing else needs, so that they stop being served; deletions meanwhile join it, and a collection never starts sooner after the last than 10 times as long as that one took")
	fs.IntVar(&c.VerifyRate, "verify-rate", c.VerifyRate, "blocks a second that the background walk checks for blocks gone missing, one pass a day at most (0: off; 'tack verify' runs a pass at once)")
	fs.StringVar(&c.GatewayListen, "gateway-listen", c.GatewayListen, "serve the gateway with files and directory listings for browsers on this host:port, an origin apart from the web pages (default off: the API's address serves only raw blocks and CARs)")
	fs.StringVar(&c.GatewayURL, "gateway-url", c.GatewayURL, "where browsers reach the gateway of --gateway-listen, http(s)://HOST[:PORT], a site apart from the web pages: each CID is served at {cid}.ipfs.HOST, so point *.ipfs.HOST and HOST at it (default http://<gateway-listen>)")
	fs.StringVar(&c.GatewayMode, "gateway-mode", c.GatewayMode, "subdomain (each CID on an origin of its own, {cid}.ipfs.HOST; /ipfs/{cid} on HOST redirects there) or path (every CID at HOST/ipfs/{cid}, one origin) (default subdomain when --gateway-url names a host, path for an IP address)")
	fs.IntVar(&c.GatewayMaxInFlight, "gateway-max-inflight", c.GatewayMaxInFlight, "gateway requests (/ipfs/…) served at once on each address, apart from --max-inflight; more get 429 with Retry-After")
	fs.Int64Var(&c.GatewayMaxBlocks, "gateway-max-blocks", c.GatewayMaxBlocks, "blocks one gateway request may read, a block read twice counted twice; past it the request ends (413 before its response starts, a cut-off stream after)")
	fs.DurationVar(&c.GatewayTimeout, "gateway-timeout", c.GatewayTimeout, "how long a gateway request may go without its client taking any of its response; then it ends (504 before its response starts, a cut-off stream after)")
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", c.DrainTimeout, "after SIGTERM, how long the uploads and gateway streams in flight may go on to finish; then an upload not yet answered gets 503 with Retry-After and a stream is cut off (0: at once)")
	fs.Var(trustedProxies{&c.TrustedProxies}, "trusted-proxies", "reverse proxies whose X-Forwarded-For names the client, as CIDR prefixes or addresses, comma-separated (default none: the header is ignored)")
	fs.StringVar(&c.Provide, "provide", c.Provide, "what is announced on the DHT: all (every block, as Kubo does) or roots (the root of each pinned DAG); nothing with --dht off")
	fs.DurationVar(&c.ReprovideInterval, "reprovide-interval", c.ReprovideInterval, "how often every provided key is announced again (DHT servers keep a record 48h)")
	fs.StringVar(&c.MetricsListen, "metrics-listen", c.MetricsListen, "serve Prometheus metrics at /metrics on this host:port, without authentication (keep it private), instead of on the API's address to operators' tokens")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log lines as text (key=value) or json (one object a line)")
	fs.StringVar(&c.Blocks, "blocks", c.Blocks, "where blocks are stored: empty for <data>/blocks on the local disk, or s3://bucket/prefix?endpoint=https://host:port&region=R for S3-compatible storage, with credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	fs.Var(sizeFlag{&c.BlocksCache}, "blocks-cache", "with S3 blocks, bytes of hot blocks cached on the local disk in <data>/blocks-cache, like 10GiB (0: none)")
	fs.Var(reserveFlag{&c.DiskReserve}, "disk-reserve", reserveHelp)
	return bootstrap
}

// parse sets fs's flags from TACK_… environment variables, then from args,
// so that flags win over the environment. If only names flags, only those
// are read from the environment.
func parse(fs *flag.FlagSet, args []string, getenv func(string) string, only ...string) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if len(only) > 0 && !slices.Contains(only, f.Name) {
			return
		}
		name := "TACK_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" && err == nil {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s: %w", name, e)
			}
		}
	})
	if err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// finish checks the configuration and fills in what derives from it.
func (c *Config) finish(bootstrapSet bool) error {
	if !bootstrapSet {
		c.Bootstrap = node.DefaultBootstrap()
	} else if len(c.Bootstrap) == 1 && c.Bootstrap[0] == "none" {
		c.Bootstrap = nil
	}
	if _, err := parseStore(c.Store, c.Data); err != nil {
		return err
	}
	switch c.DHT {
	case "auto", "client", "server", "off":
	default:
		return fmt.Errorf("--dht must be auto, client, server or off, not %q", c.DHT)
	}
	if c.Provide != node.ProvideAll && c.Provide != node.ProvideRoots {
		return fmt.Errorf("--provide must be all or roots, not %q", c.Provide)
	}
	if c.ReprovideInterval <= 0 {
		return fmt.Errorf("--reprovide-interval must be a positive duration, like 22h")
	}
	if c.Fetches < 1 {
		return fmt.Errorf("--fetches must be at least 1")
	}
	if c.PinTimeout <= 0 || c.PinMaxTime <= 0 || c.PinStall <= 0 || c.PinYield <= 0 || c.PinRetry <= 0 || c.PinBackoff <= 0 {
		return fmt.Errorf("--pin-timeout, --pin-stall, --pin-yield, --pin-retry, --pin-backoff and --pin-max-time must be positive durations, like 5s or 24h")
	}
	if c.PinLease < 5*time.Second {
		return fmt.Errorf("--pin-lease must be at least 5s: claims are renewed every 2s")
	}
	if c.GCInterval < 0 || c.VerifyRate < 0 {
		return fmt.Errorf("--gc-interval and --verify-rate cannot be negative: 0 turns them off")
	}
	if c.GCDelay <= 0 {
		return fmt.Errorf("--gc-delay must be a positive duration (--gc-interval 0 turns collections on their own off)")
	}
	if c.MaxPending < 0 || c.MaxBytes < 0 {
		return fmt.Errorf("--max-pending and --max-bytes cannot be negative: 0 means no limit")
	}
	if _, err := http.ParseSignupMode(c.Signup); err != nil {
		return fmt.Errorf("--signup must be open, invite or closed, not %q", c.Signup)
	}
	if c.Access != "request" && c.Access != "auto" {
		return fmt.Errorf("--access must be request or auto, not %q", c.Access)
	}
	if c.MaxInFlight < 1 {
		return fmt.Errorf("--max-inflight must be at least 1")
	}
	if c.GatewayMaxInFlight < 1 {
		return fmt.Errorf("--gateway-max-inflight must be at least 1")
	}
	if c.GatewayMaxBlocks < 1 {
		return fmt.Errorf("--gateway-max-blocks must be at least 1")
	}
	if c.GatewayTimeout < time.Second {
		return fmt.Errorf("--gateway-timeout must be at least 1s")
	}
	if c.DrainTimeout < 0 {
		return fmt.Errorf("--drain-timeout must not be negative")
	}
	if c.MaxUpload < 1 || c.MaxUploads < 1 {
		return fmt.Errorf("--max-upload and --max-uploads must be at least 1")
	}
	if c.GatewayListen != "" && c.GatewayListen == c.Listen {
		return fmt.Errorf("--gateway-listen must differ from --listen: content served to browsers must not share an origin with the web pages")
	}
	if c.MetricsListen != "" && c.MetricsListen == c.Listen {
		return fmt.Errorf("--metrics-listen must differ from --listen: without it, the API's address serves /metrics to operators' tokens")
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("--log-format must be text or json, not %q", c.LogFormat)
	}
	if c.MaxConns < 1 {
		return fmt.Errorf("--max-conns must be at least 1")
	}
	if c.Blocks != "" {
		if _, err := s3.ParseURL(c.Blocks); err != nil {
			return fmt.Errorf("--blocks: %w", err)
		}
	}
	if c.DiskReserve < AutoReserve {
		return fmt.Errorf("--disk-reserve cannot be negative: 0 turns it off")
	}
	if c.BlocksCache < 0 {
		return fmt.Errorf("--blocks-cache cannot be negative: 0 turns it off")
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.Listen
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.GatewayListen != "" {
		if _, err := c.gatewayOrigin(); err != nil {
			return err
		}
	} else if c.GatewayURL != "" || c.GatewayMode != "" {
		return fmt.Errorf("--gateway-url and --gateway-mode configure the gateway of --gateway-listen, which is not set")
	}
	return nil
}

// gatewayOrigin returns where browsers reach the gateway of
// --gateway-listen (--gateway-url, or else http://<gateway-listen>), once
// it has checked that the content the gateway serves is a site apart from
// the web pages' (gateway.Origin.Apart): tack refuses to start otherwise.
func (c *Config) gatewayOrigin() (*gateway.Origin, error) {
	raw, from := c.GatewayURL, "--gateway-url"
	if raw == "" {
		raw, from = "http://"+c.GatewayListen, "--gateway-listen"
	}
	o, err := gateway.ParseOrigin(raw, c.GatewayMode)
	if err != nil {
		if c.GatewayURL == "" {
			return nil, fmt.Errorf("--gateway-listen %s: %w; name the host that browsers reach the gateway at with --gateway-url", c.GatewayListen, err)
		}
		return nil, fmt.Errorf("%s: %w", from, err)
	}
	o.TrustedProxies = c.TrustedProxies
	web, err := url.Parse(c.PublicURL)
	if err != nil || web.Hostname() == "" {
		return nil, fmt.Errorf("--public-url %q names no host: tack cannot check that the gateway is a site apart from the web pages", c.PublicURL)
	}
	if addr, err := netip.ParseAddr(web.Hostname()); err == nil && addr.IsUnspecified() {
		return nil, fmt.Errorf("the web pages are served on every address (%s): name the host users reach them at with --public-url, so that tack can check that the gateway is a site apart", c.PublicURL)
	}
	if err := o.Apart(web.Hostname()); err != nil {
		if addr, e := netip.ParseAddr(web.Hostname()); e == nil && addr.IsLoopback() {
			return nil, fmt.Errorf("%s %s: %w (for local use, --gateway-url http://localhost:PORT serves each CID at {cid}.ipfs.localhost:PORT)", from, raw, err)
		}
		return nil, fmt.Errorf("%s %s: %w", from, raw, err)
	}
	return o, nil
}

// sizeFlag is a size in bytes, written as a number with an optional unit:
// 500GB, 2TiB, 1048576.
type sizeFlag struct{ v *int64 }

func (f sizeFlag) String() string {
	if f.v == nil {
		return "0"
	}
	return strconv.FormatInt(*f.v, 10)
}

func (f sizeFlag) Set(s string) error {
	n, err := tack.ParseSize(s)
	if err != nil {
		return err
	}
	*f.v = n
	return nil
}

// reserveHelp is the help of --disk-reserve, for serve and gc.
const reserveHelp = "bytes of <data>/reserve, a file released when the disk fills so that deleting pins and collecting garbage have room, like 64MiB; auto: 1/32 of the disk, 8MiB to 256MiB (0: none)"

// reserveFlag is --disk-reserve: a size, or auto.
type reserveFlag struct{ v *int64 }

func (f reserveFlag) String() string {
	if f.v == nil || *f.v == AutoReserve {
		return "auto"
	}
	return strconv.FormatInt(*f.v, 10)
}

func (f reserveFlag) Set(s string) error {
	if s == "auto" {
		*f.v = AutoReserve
		return nil
	}
	return sizeFlag(f).Set(s)
}

// path returns a file's path in the data directory.
func (c Config) path(name string) string { return filepath.Join(c.Data, name) }

// limits returns the default limits of accounts.
func (c Config) limits() tack.Limits {
	return tack.Limits{MaxPending: c.MaxPending, MaxBytes: c.MaxBytes}
}
