package main

import (
	"encoding/json"
	"io"
	nethttp "net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tack-ipfs/tack/http"
	"github.com/tack-ipfs/tack/node"
)

// parseServe parses a serve command line with env as the environment.
func parseServe(args []string, env map[string]string) (Config, error) {
	m := NewMain()
	m.Stderr = io.Discard
	err := m.ParseFlags(args, func(k string) string { return env[k] })
	return m.Config, err
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c, err := parseServe(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.Bootstrap = node.DefaultBootstrap()
	want.PublicURL = "http://127.0.0.1:8080"
	if !reflect.DeepEqual(c, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", c, want)
	}
	if len(c.Bootstrap) == 0 {
		t.Error("no default bootstrap peers")
	}
	// Every block is announced, again every 22 hours, as Kubo does.
	if c.Provide != "all" || c.ReprovideInterval != 22*time.Hour {
		t.Errorf("provide %q every %s, want all every 22h", c.Provide, c.ReprovideInterval)
	}
}

// The same configuration, once from flags and once from TACK_… variables.
var everyFlag = []struct{ flag, env, value string }{
	{"--data", "TACK_DATA", "/srv/tack"},
	{"--listen", "TACK_LISTEN", "0.0.0.0:9090"},
	{"--public-url", "TACK_PUBLIC_URL", "https://pin.example.com/"},
	{"--p2p-listen", "TACK_P2P_LISTEN", "/ip4/0.0.0.0/tcp/4002, /ip4/0.0.0.0/udp/4002/quic-v1"},
	{"--announce", "TACK_ANNOUNCE", "/dns4/pin.example.com/tcp/4002"},
	{"--bootstrap", "TACK_BOOTSTRAP", "none"},
	{"--dht", "TACK_DHT", "server"},
	{"--allow-private-origins", "TACK_ALLOW_PRIVATE_ORIGINS", "true"},
	{"--fetches", "TACK_FETCHES", "3"},
	{"--pin-timeout", "TACK_PIN_TIMEOUT", "90s"},
	{"--pin-stall", "TACK_PIN_STALL", "20s"},
	{"--pin-lease", "TACK_PIN_LEASE", "10s"},
	{"--pin-yield", "TACK_PIN_YIELD", "2s"},
	{"--pin-retry", "TACK_PIN_RETRY", "5s"},
	{"--pin-backoff", "TACK_PIN_BACKOFF", "10s"},
	{"--max-pending", "TACK_MAX_PENDING", "5000"},
	{"--max-bytes", "TACK_MAX_BYTES", "2TiB"},
	{"--pin-max-time", "TACK_PIN_MAX_TIME", "2h"},
	{"--signup", "TACK_SIGNUP", "invite"},
	{"--access", "TACK_ACCESS", "auto"},
	{"--rate-limit", "TACK_RATE_LIMIT", "500/s,2000"},
	{"--max-inflight", "TACK_MAX_INFLIGHT", "64"},
	{"--max-conns", "TACK_MAX_CONNS", "1000"},
	{"--max-upload", "TACK_MAX_UPLOAD", "1GiB"},
	{"--max-uploads", "TACK_MAX_UPLOADS", "3"},
	{"--min-free", "TACK_MIN_FREE", "2GiB"},
	{"--pprof", "TACK_PPROF", "127.0.0.1:6060"},
	{"--trusted-proxies", "TACK_TRUSTED_PROXIES", "127.0.0.1/32, 10.0.0.0/8,::1"},
	{"--gc-interval", "TACK_GC_INTERVAL", "15m"},
	{"--gc-delay", "TACK_GC_DELAY", "30s"},
	{"--verify-rate", "TACK_VERIFY_RATE", "50"},
	{"--provide", "TACK_PROVIDE", "roots"},
	{"--reprovide-interval", "TACK_REPROVIDE_INTERVAL", "12h"},
	{"--gateway-listen", "TACK_GATEWAY_LISTEN", "0.0.0.0:9091"},
	{"--gateway-url", "TACK_GATEWAY_URL", "https://example-gateway.net"},
	{"--gateway-mode", "TACK_GATEWAY_MODE", "subdomain"},
	{"--gateway-max-inflight", "TACK_GATEWAY_MAX_INFLIGHT", "200"},
	{"--gateway-max-blocks", "TACK_GATEWAY_MAX_BLOCKS", "100000"},
	{"--gateway-timeout", "TACK_GATEWAY_TIMEOUT", "2m"},
	{"--drain-timeout", "TACK_DRAIN_TIMEOUT", "45s"},
	{"--metrics-listen", "TACK_METRICS_LISTEN", "10.0.0.5:9100"},
	{"--log-format", "TACK_LOG_FORMAT", "json"},
	{"--store", "TACK_STORE", "postgres://tack@db.example.com/tack"},
	{"--blocks", "TACK_BLOCKS", "s3://tack/blocks?endpoint=http://127.0.0.1:9000&region=local"},
	{"--blocks-cache", "TACK_BLOCKS_CACHE", "10GiB"},
	{"--disk-reserve", "TACK_DISK_RESERVE", "64MiB"},
}

var everyFlagConfig = Config{
	Data:                "/srv/tack",
	Store:               "postgres://tack@db.example.com/tack",
	Listen:              "0.0.0.0:9090",
	PublicURL:           "https://pin.example.com",
	P2PListen:           []string{"/ip4/0.0.0.0/tcp/4002", "/ip4/0.0.0.0/udp/4002/quic-v1"},
	Announce:            []string{"/dns4/pin.example.com/tcp/4002"},
	DHT:                 "server",
	AllowPrivateOrigins: true,
	Fetches:             3,
	PinTimeout:          90 * time.Second,
	PinStall:            20 * time.Second,
	PinLease:            10 * time.Second,
	PinYield:            2 * time.Second,
	PinRetry:            5 * time.Second,
	PinBackoff:          10 * time.Second,
	MaxPending:          5000,
	MaxBytes:            2 << 40,
	PinMaxTime:          2 * time.Hour,
	Signup:              "invite",
	Access:              "auto",

	RateLimit:   http.RateLimit{Rate: 500, Burst: 2000},
	MaxInFlight: 64,
	MaxConns:    1000,
	MaxUpload:   1 << 30,
	MaxUploads:  3,
	MinFree:     2 << 30,
	PProf:       "127.0.0.1:6060",

	GatewayMaxBlocks:   100000,
	GatewayTimeout:     2 * time.Minute,
	DrainTimeout:       45 * time.Second,
	GatewayListen:      "0.0.0.0:9091",
	GatewayURL:         "https://example-gateway.net",
	GatewayMode:        "subdomain",
	GatewayMaxInFlight: 200,
	GCInterval:         15 * time.Minute,
	GCDelay:            30 * time.Second,
	VerifyRate:         50,

	TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")},

	Provide:           "roots",
	ReprovideInterval: 12 * time.Hour,

	MetricsListen: "10.0.0.5:9100",
	LogFormat:     "json",
	Blocks:        "s3://tack/blocks?endpoint=http://127.0.0.1:9000&region=local",
	BlocksCache:   10 << 30,
	DiskReserve:   64 << 20,
}

func TestConfigEveryFlag(t *testing.T) {
	t.Parallel()
	var args []string
	env := map[string]string{}
	for _, f := range everyFlag {
		args = append(args, f.flag+"="+f.value)
		env[f.env] = f.value
	}
	fromFlags, err := parseServe(args, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromFlags, everyFlagConfig) {
		t.Errorf("from flags:\n got %+v\nwant %+v", fromFlags, everyFlagConfig)
	}
	fromEnv, err := parseServe(nil, env)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromEnv, everyFlagConfig) {
		t.Errorf("from the environment:\n got %+v\nwant %+v", fromEnv, everyFlagConfig)
	}
	// Every serve flag has its row here, so a new flag cannot miss its
	// environment variable unnoticed.
	m := NewMain()
	var help strings.Builder
	m.Stderr = &help
	m.ParseFlags([]string{"--help"}, func(string) string { return "" })
	for _, f := range everyFlag {
		if !strings.Contains(help.String(), "-"+f.flag[2:]) {
			t.Errorf("flag %s missing from the usage", f.flag)
		}
	}
	if n := strings.Count(help.String(), "\n  -"); n != len(everyFlag) {
		t.Errorf("serve has %d flags, the table here %d:\n%s", n, len(everyFlag), help.String())
	}
}

func TestConfigFlagBeatsEnvironment(t *testing.T) {
	t.Parallel()
	c, err := parseServe([]string{"--listen", "127.0.0.1:7000", "--bootstrap", "/ip4/10.0.0.1/tcp/4001/p2p/12D3KooWQ4fX8Jcxh7gehuBK4xzRjX1cuSwyKXi5kYfSwbxzuuAZ"},
		map[string]string{"TACK_LISTEN": "127.0.0.1:9000", "TACK_BOOTSTRAP": "none", "TACK_DHT": "off"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:7000" || c.PublicURL != "http://127.0.0.1:7000" {
		t.Errorf("listen %q, public URL %q: want the flag's", c.Listen, c.PublicURL)
	}
	if len(c.Bootstrap) != 1 {
		t.Errorf("bootstrap %v: want the flag's one peer", c.Bootstrap)
	}
	if c.DHT != "off" {
		t.Errorf("dht %q: want the environment's off", c.DHT)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"bad dht", []string{"--dht", "sometimes"}, nil, "--dht must be auto, client, server or off"},
		{"no fetches", []string{"--fetches", "0"}, nil, "--fetches must be at least 1"},
		{"bad size", []string{"--max-bytes", "lots"}, nil, "invalid size"},
		{"negative pending", []string{"--max-pending", "-5"}, nil, "cannot be negative"},
		{"zero stall", []string{"--pin-stall", "0s"}, nil, "must be positive"},
		{"short lease", []string{"--pin-lease", "2s"}, nil, "at least 5s"},
		{"bad duration", []string{"--pin-timeout", "soon"}, nil, "invalid value"},
		{"negative duration", []string{"--pin-max-time", "-1h"}, nil, "must be positive"},
		{"bad signup", []string{"--signup", "maybe"}, nil, "--signup must be open, invite or closed"},
		{"bad access", []string{"--access", "everyone"}, nil, "--access must be request or auto"},
		{"bad env", nil, map[string]string{"TACK_FETCHES": "many"}, "TACK_FETCHES"},
		{"bad env bool", nil, map[string]string{"TACK_ALLOW_PRIVATE_ORIGINS": "perhaps"}, "TACK_ALLOW_PRIVATE_ORIGINS"},
		{"bad rate limit", []string{"--rate-limit", "fast"}, nil, `--rate-limit "fast": the rate must be a positive number`},
		{"bad burst", []string{"--rate-limit", "50,0"}, nil, `--rate-limit "50,0": the burst must be`},
		{"bad env rate limit", nil, map[string]string{"TACK_RATE_LIMIT": "lots"}, `TACK_RATE_LIMIT: --rate-limit "lots"`},
		{"no inflight", []string{"--max-inflight", "0"}, nil, "--max-inflight must be at least 1"},
		{"no conns", []string{"--max-conns", "-1"}, nil, "--max-conns must be at least 1"},
		{"no gateway inflight", []string{"--gateway-max-inflight", "0"}, nil, "--gateway-max-inflight must be at least 1"},
		{"no gateway blocks", []string{"--gateway-max-blocks", "0"}, nil, "--gateway-max-blocks must be at least 1"},
		{"short gateway timeout", []string{"--gateway-timeout", "500ms"}, nil, "--gateway-timeout must be at least 1s"},
		{"negative drain timeout", []string{"--drain-timeout", "-1s"}, nil, "--drain-timeout must not be negative"},
		{"zero pin backoff", []string{"--pin-backoff", "0s"}, nil, "--pin-backoff"},
		{"bad env gateway timeout", nil, map[string]string{"TACK_GATEWAY_TIMEOUT": "30"}, "TACK_GATEWAY_TIMEOUT"},
		{"negative gc interval", []string{"--gc-interval", "-1m"}, nil, "cannot be negative"},
		{"no gc delay", []string{"--gc-delay", "0s"}, nil, "--gc-delay must be a positive duration"},
		{"bad env gc delay", nil, map[string]string{"TACK_GC_DELAY": "soon"}, "TACK_GC_DELAY"},
		{"negative verify rate", nil, map[string]string{"TACK_VERIFY_RATE": "-5"}, "cannot be negative"},
		{"gateway on the API address", []string{"--listen", "127.0.0.1:9000", "--gateway-listen", "127.0.0.1:9000"}, nil, "must differ from --listen"},
		{"gateway url without gateway", []string{"--gateway-url", "http://localhost:8081"}, nil, "--gateway-listen, which is not set"},
		{"gateway mode without gateway", nil, map[string]string{"TACK_GATEWAY_MODE": "path"}, "--gateway-listen, which is not set"},
		{"bad gateway mode", []string{"--gateway-listen", "127.0.0.1:8081", "--gateway-url", "http://localhost:8081", "--gateway-mode", "both"}, nil, `the gateway mode must be subdomain or path, not "both"`},
		{"gateway url with a path", []string{"--gateway-listen", "127.0.0.1:8081", "--gateway-url", "http://localhost:8081/ipfs"}, nil, "without a path"},
		{"gateway url not http", []string{"--gateway-listen", "127.0.0.1:8081", "--gateway-url", "ftp://localhost"}, nil, "must be http://HOST[:PORT] or https://HOST[:PORT]"},
		{"subdomains of an address", []string{"--gateway-listen", "127.0.0.1:8081", "--gateway-url", "http://127.0.0.2:8081", "--gateway-mode", "subdomain"}, nil, "a subdomain gateway needs a host name, not the IP address 127.0.0.2"},
		{"gateway on every address", []string{"--gateway-listen", "0.0.0.0:8081"}, nil, "--gateway-listen 0.0.0.0:8081: \"http://0.0.0.0:8081\" names no host that browsers can reach (0.0.0.0 is every address); name the host that browsers reach the gateway at with --gateway-url"},
		{"gateway without a host", []string{"--gateway-listen", ":8081"}, nil, "with --gateway-url"},
		{"web pages on every address", []string{"--listen", "0.0.0.0:8080", "--gateway-listen", "127.0.0.1:8081", "--gateway-url", "http://localhost:8081"}, nil, "the web pages are served on every address (http://0.0.0.0:8080): name the host users reach them at with --public-url"},
		{"bad trusted proxy", []string{"--trusted-proxies", "127.0.0.1/32,proxy.local"}, nil, `--trusted-proxies: "proxy.local" is not an IP address or a CIDR prefix`},
		{"bad env trusted proxy", nil, map[string]string{"TACK_TRUSTED_PROXIES": "10.0.0.0/99"}, `TACK_TRUSTED_PROXIES: --trusted-proxies: "10.0.0.0/99"`},
		{"bad provide", []string{"--provide", "pinned"}, nil, `--provide must be all or roots, not "pinned"`},
		{"bad env provide", nil, map[string]string{"TACK_PROVIDE": "none"}, `--provide must be all or roots, not "none"`},
		{"zero reprovide", []string{"--reprovide-interval", "0s"}, nil, "--reprovide-interval must be a positive duration"},
		{"bad reprovide", nil, map[string]string{"TACK_REPROVIDE_INTERVAL": "daily"}, "TACK_REPROVIDE_INTERVAL"},
		{"bad log format", []string{"--log-format", "xml"}, nil, `--log-format must be text or json, not "xml"`},
		{"bad env log format", nil, map[string]string{"TACK_LOG_FORMAT": "JSON!"}, `--log-format must be text or json, not "JSON!"`},
		{"metrics on the API address", []string{"--listen", "127.0.0.1:9000", "--metrics-listen", "127.0.0.1:9000"}, nil, "--metrics-listen must differ from --listen"},
		{"bad store", []string{"--store", "mysql://db/tack"}, nil, `--store "mysql://db/tack": use sqlite://PATH or postgres://`},
		{"bad env store", nil, map[string]string{"TACK_STORE": "/var/tack.db"}, `--store "/var/tack.db": use sqlite://PATH`},
		{"store password hidden", []string{"--store", "mysql://u:secret@db/tack"}, nil, `"mysql://u:xxxxx@db/tack"`},
		{"empty sqlite store", []string{"--store", "sqlite://"}, nil, `names no file`},
		{"blocks not s3", []string{"--blocks", "/srv/blocks"}, nil, "--blocks: blocks URL \"/srv/blocks\": the scheme must be s3"},
		{"blocks without bucket", nil, map[string]string{"TACK_BLOCKS": "s3:///x"}, "no bucket"},
		{"blocks bad endpoint", []string{"--blocks", "s3://b?endpoint=minio:9000"}, nil, "endpoint must be http://host[:port] or https://host[:port]"},
		{"blocks unknown parameter", []string{"--blocks", "s3://b?bucket=x"}, nil, `unknown parameter "bucket"`},
		{"bad blocks cache", []string{"--blocks-cache", "-1"}, nil, "invalid size"},
		{"bad disk reserve", []string{"--disk-reserve", "lots"}, nil, "invalid size"},
		{"argument", []string{"extra"}, nil, `unexpected argument "extra"`},
		{"unknown flag", []string{"--colour"}, nil, "not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseServe(tc.args, tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// A second tack serve on the same data directory is refused with a clear
// error, before it touches the stores; the first keeps serving.
func TestServeTwiceOnOneDataDirectory(t *testing.T) {
	t.Parallel()
	dir := tempData(t)
	first := MustOpenMain(t, dir)
	second := NewMain()
	second.Stdout, second.Stderr = io.Discard, io.Discard
	if err := second.ParseFlags([]string{"--data", dir, "--listen", "127.0.0.1:0", "--p2p-listen", "/ip4/127.0.0.1/tcp/0", "--bootstrap", "none", "--dht", "off"}, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	err := second.Open(t.Context())
	second.Close()
	if err == nil || !strings.Contains(err.Error(), "another tack serve is running on this data directory") {
		t.Fatalf("second Open = %v, want the data directory refused", err)
	}
	if _, _, err := first.Client(first.AdminToken).LsBatchSync(t.Context()); err != nil {
		t.Errorf("the first server stopped answering: %v", err)
	}
}

// TestRateLimitFlag: under the default limit, a burst of 1,000 requests of
// one account meets 429 with Retry-After; with --rate-limit off all of
// them are served.
func TestRateLimitFlag(t *testing.T) {
	// Not parallel: the burst must beat the token bucket's refill, which
	// a loaded machine may not.
	const burst = 1000
	for _, tc := range []struct {
		name, flag string // flag empty: the default
		limited    bool
	}{{"default", "", true}, {"off", "off", false}} {
		t.Run(tc.name, func(t *testing.T) {
			m := MustOpenMain(t, tempData(t), func(c *Config) {
				if tc.flag != "" {
					if err := (rateLimit{&c.RateLimit}).Set(tc.flag); err != nil {
						t.Fatal(err)
					}
				}
			})
			statuses := burstStatuses(t, "http://"+m.HTTPAddr()+"/pins?limit=1", m.AdminToken, burst)
			if got := statuses[nethttp.StatusOK] + statuses[nethttp.StatusTooManyRequests]; got != burst {
				t.Fatalf("statuses %v: want only 200 and 429", statuses)
			}
			if tc.limited && statuses[nethttp.StatusTooManyRequests] == 0 {
				t.Errorf("statuses %v: want some 429 past the default burst of %d", statuses, http.DefaultBurst)
			}
			if !tc.limited && statuses[nethttp.StatusOK] != burst {
				t.Errorf("statuses %v: want every request served", statuses)
			}
		})
	}
}

// burstStatuses sends n GET requests, 8 at a time, and counts the answers
// by status. A 429 must carry Retry-After and the API's error body.
func burstStatuses(t *testing.T, url, token string, n int) map[int]int {
	t.Helper()
	var mu sync.Mutex
	statuses := map[int]int{}
	next := make(chan struct{}, n)
	for range n {
		next <- struct{}{}
	}
	close(next)
	c := &nethttp.Client{Transport: &nethttp.Transport{}}
	defer c.CloseIdleConnections()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range next {
				req, _ := nethttp.NewRequest("GET", url, nil)
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := c.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				var f http.Failure
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == nethttp.StatusTooManyRequests {
					if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || secs < 1 {
						t.Errorf("429 with Retry-After %q", resp.Header.Get("Retry-After"))
					}
					if err := json.Unmarshal(body, &f); err != nil || f.Error.Reason != "TOO_MANY_REQUESTS" {
						t.Errorf("429 with body %s", body)
					}
				}
				mu.Lock()
				statuses[resp.StatusCode]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return statuses
}

// TestPProf: --pprof serves the profiles on its own address only.
func TestPProf(t *testing.T) {
	t.Parallel()
	get := func(url string) int {
		resp, err := nethttp.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	m := MustOpenMain(t, tempData(t), func(c *Config) { c.PProf = "127.0.0.1:0" })
	if got := get(m.pprofURL + "cmdline"); got != nethttp.StatusOK {
		t.Errorf("pprof address: got %d, want 200", got)
	}
	if got := get("http://" + m.HTTPAddr() + "/debug/pprof/cmdline"); got != nethttp.StatusNotFound {
		t.Errorf("API address: got %d, want 404", got)
	}
	off := MustOpenMain(t, tempData(t))
	if off.pprof != nil {
		t.Error("pprof served without --pprof")
	}
}

// TestTrustedProxiesFlag: by default X-Forwarded-For is ignored, so 31
// sign-ins from one peer meet the limit of 30 per address whatever the
// header says; with --trusted-proxies naming the peer, each address the
// header names has its own bucket. The web pages' clock stands still, so
// that no bucket refills however slowly a loaded machine sends the 31.
func TestTrustedProxiesFlag(t *testing.T) {
	// Not parallel: it counts on the sign-in limiter's bucket not
	// refilling during the test, which a loaded machine may break.
	now := time.Now()
	for _, tc := range []struct {
		name, flag string // flag empty: the default
		limited    bool
	}{{"default", "", true}, {"loopback trusted", "127.0.0.1/32", false}} {
		t.Run(tc.name, func(t *testing.T) {
			m := MustOpenMain(t, tempData(t), func(c *Config) {
				c.WebClock = func() time.Time { return now }
				if tc.flag != "" {
					if err := (trustedProxies{&c.TrustedProxies}).Set(tc.flag); err != nil {
						t.Fatal(err)
					}
				}
			})
			site := "http://" + m.HTTPAddr()
			jar, err := cookiejar.New(nil)
			if err != nil {
				t.Fatal(err)
			}
			c := &nethttp.Client{Jar: jar, CheckRedirect: func(*nethttp.Request, []*nethttp.Request) error { return nethttp.ErrUseLastResponse }}
			resp, err := c.Get(site + "/signin")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(body)
			if csrf == nil {
				t.Fatalf("no CSRF token on the sign-in page:\n%s", body)
			}
			statuses := map[int]int{}
			for i := range 31 {
				form := url.Values{"csrf": {string(csrf[1])}, "email": {"nobody" + strconv.Itoa(i) + "@example.com"}, "password": {"guess"}}
				req, _ := nethttp.NewRequest("POST", site+"/signin", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("X-Forwarded-For", "203.0.113."+strconv.Itoa(i))
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				statuses[resp.StatusCode]++
			}
			if tc.limited && statuses[nethttp.StatusTooManyRequests] != 1 {
				t.Errorf("statuses %v: want the 31st sign-in refused with 429", statuses)
			}
			if !tc.limited && statuses[nethttp.StatusUnauthorized] != 31 {
				t.Errorf("statuses %v: want all 31 wrong sign-ins answered 401", statuses)
			}
		})
	}
}

// tack refuses to start when the gateway for browsers would share a site
// with the web pages (gateway.Origin.Apart): the same host on another
// port (docs/security.md's old example, where a pinned page signed visitors in
// as its author), a parent, a subdomain or a sibling under one registrable
// domain. A domain of its own, or localhost beside 127.0.0.1 for local
// use, is accepted, with subdomains by default for a host name.
func TestConfigGatewaySite(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want string // an error, or "subdomain"/"path" for the mode started
	}{
		{"old example: same address, another port", []string{"--listen", "127.0.0.1:8080", "--gateway-listen", "127.0.0.1:8081"},
			`--gateway-listen http://127.0.0.1:8081: the gateway at 127.0.0.1 would share the site 127.0.0.1 with the web pages' host 127.0.0.1`},
		{"same name, another port", []string{"--public-url", "http://localhost:8080", "--gateway-listen", "127.0.0.1:8081", "--gateway-url", "http://localhost:8081"},
			"the gateway's content, at {cid}.ipfs.localhost, would share the site localhost with the web pages' host localhost"},
		{"same https name", []string{"--public-url", "https://pin.example.com", "--gateway-listen", "127.0.0.1:8081", "--gateway-url", "https://pin.example.com"}, "would share the site example.com"},
		{"same name, paths", []string{"--public-url", "https://pin.example.com", "--gateway-listen", "127.0.0.1:8081", "--gateway-url", "https://pin.example.com:8443", "--gateway-mode", "path"}, "would share the site example.com"},
		{"gateway on the parent", []string{"--public-url", "https://pin.example.com", "--gateway-listen", "127.0.0.1:8081", "--gateway-url", "https://example.com"}, "would share the site example.com"},
		{"gateway on a sibling", []string{"--public-url", "https://pin.example.com", "--gateway-listen", "127.0.0.1:8081", "--gateway-url", "https://gateway.example.com"}, "would share the site example.com"},
		{"gateway under the web pages", []string{"--public-url", "https://pin.example.com", "--gateway-listen", "127.0.0.1:8081", "--gateway-url", "https://gw.pin.example.com"}, "would share the site example.com"},
		{"web pages under the gateway", []string{"--public-url", "https://pin.ipfs.example.net", "--gateway-listen", "127.0.0.1:8081", "--gateway-url", "https://example.net"}, "would share the site example.net"},
		{"under a second-level suffix", []string{"--public-url", "https://pin.example.co.uk", "--gateway-listen", "127.0.0.1:8081", "--gateway-url", "https://gw.example.co.uk"}, "would share the site example.co.uk"},
		{"an unlisted top-level domain", []string{"--public-url", "http://tack.lan:8080", "--gateway-listen", "127.0.0.1:8081", "--gateway-url", "http://gateway.lan:8081"}, "would share the site lan"},
		{"IPv6 loopback twice", []string{"--listen", "[::1]:8080", "--gateway-listen", "[::1]:8081"}, "would share the site ::1"},

		{"a domain of its own", []string{"--public-url", "https://pin.example.com", "--gateway-listen", "127.0.0.1:8081", "--gateway-url", "https://example-gateway.net"}, "subdomain"},
		{"a domain of its own, paths", []string{"--public-url", "https://pin.example.com", "--gateway-listen", "127.0.0.1:8081", "--gateway-url", "https://gw.example-gateway.net", "--gateway-mode", "path"}, "path"},
		{"siblings under a public suffix", []string{"--public-url", "https://tack.github.io", "--gateway-listen", "127.0.0.1:8081", "--gateway-url", "https://gateway.github.io"}, "subdomain"},
		{"local: web on 127.0.0.1, gateway on localhost", []string{"--listen", "127.0.0.1:8080", "--gateway-listen", "localhost:8081"}, "subdomain"},
		{"local: gateway URL on localhost", []string{"--listen", "127.0.0.1:8080", "--gateway-listen", "127.0.0.1:8081", "--gateway-url", "http://localhost:8081"}, "subdomain"},
		{"local: web on localhost, gateway on 127.0.0.1", []string{"--public-url", "http://localhost:8080", "--gateway-listen", "127.0.0.1:8081"}, "path"},
		{"another address", []string{"--public-url", "https://pin.example.com", "--gateway-listen", "0.0.0.0:8081", "--gateway-url", "http://203.0.113.7:8081"}, "path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseServe(tc.args, nil)
			switch tc.want {
			case "subdomain", "path":
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				o, err := c.gatewayOrigin()
				if err != nil {
					t.Fatal(err)
				}
				if got := map[bool]string{true: "subdomain", false: "path"}[o.Subdomains]; got != tc.want {
					t.Errorf("mode %s, want %s", got, tc.want)
				}
			default:
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("got %v, want an error with %q", err, tc.want)
				}
			}
		})
	}
}
