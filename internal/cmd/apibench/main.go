// Command apibench measures tack's Pinning Service API under load: it seeds
// a store with many pin requests, starts `tack serve` on it as a process
// (rate limit off, no network, one pin worker) and runs each scenario
// against 127.0.0.1 for a fixed time with vegeta, printing rate, success
// ratio, latency percentiles, status codes and the server's peak RSS.
//
//	go run ./internal/cmd/apibench                          # 1,000,000 requests, 20 s per scenario
//	go run ./internal/cmd/apibench -n 10000 -duration 3s    # a smoke test
//	go run ./internal/cmd/apibench -seed-only -dir /var/tmp/apibench   # seed once (about 80 s for 1,000,000)…
//	go run ./internal/cmd/apibench -reuse /var/tmp/apibench            # …and run on a copy of it, again and again
//	go run ./internal/cmd/apibench -reuse /var/tmp/apibench -scenarios post -serve-args '--max-inflight 64'
//	go run ./internal/cmd/apibench -reuse /var/tmp/apibench -store postgres://postgres@127.0.0.1/EMPTYDB   # on PostgreSQL
//	go run ./internal/cmd/apibench -reuse /var/tmp/apibench -store postgres://postgres@127.0.0.1/NEWDB -store-seed SEEDDB
//	                                                        # the same, cloned from SEEDDB (copied into once) rather than copied each time
//
// The scenarios, in the order they run:
//
//	floor     GET /pins?status=pinned&limit=1 of the small accounts (none
//	          are pinned): authentication and two index probes, the run's
//	          yardstick, measured first and again last to show the noise
//	post      POST /pins of new random CIDs from every account in turn, as
//	          Kubo sends them (a name, two origins), at -post-rate
//	list      GET /pins?status=queued&limit=1000 of the small accounts
//	list-big  the same, of the account that holds -big-share of the store
//	stat      GET /pins?status=S&limit=1 for the four statuses in turn, as
//	          `ipfs pin remote service ls --stat` asks, of the small accounts
//	stat-big  the same, of the big account
//	conns     -conns clients, each on a keep-alive connection of its own,
//	          each polling GET /pins/{requestid} every -conn-every, as Kubo
//	          waits on a pin; all of them stay open until the end
//	list-busy only when named, with -busy N: GET /pins?limit=1000 of an
//	          account of N queued requests for 1 KiB DAGs that a peer
//	          started by apibench serves, at -list-rate, while the pinner
//	          (--fetches 256) fetches them; it says how many it pinned
//	          meanwhile. Compare two builds with -tack, run in turn:
//
//	go run ./internal/cmd/apibench -n 10000 -busy 30000 -scenarios list-busy -list-rate 100 -tack BIN
//
// Every other request stays queued: the server has no other peer, and
// without -busy one worker, which never finishes a fetch. GET /pins without a status lists only pinned
// requests, of which there are none, so list asks for status=queued, a full
// page of 1,000. Seeding writes the rows with bulk inserts into the store's
// file (-seed-via store uses CreatePin instead: about 2,000 a second, too
// slow for a million). -reuse runs on a copy of the seeded store in
// DIR/run-TIME/, which keeps the server's log and, under post and
// list-busy, its CPU profile (NAME.cpu.pprof), whose top is printed.
//
// The table gives, per scenario, the rate asked and achieved, the share of
// 2xx answers, latency percentiles of every answer (and p99 of the 2xx ones
// alone, since shed requests answer fast), the ratios of p50 and p99 to the
// first floor's, the server's peak RSS during the scenario (VmHWM, reset
// before each), the most file descriptors it held, and the machine's load
// average. Load goes to 127.0.0.1 only, and the load generator shares the
// machine with the server: compare with the floor of the same run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ipfs/go-cid"
)

// Config is what one run of apibench does.
type Config struct {
	N         int     // pin requests seeded
	Accounts  int     // small accounts, each with an equal share
	BigShare  float64 // share of N in the one big account
	SeedVia   string  // "sql": bulk inserts; "store": CreatePin calls
	Dir       string  // working directory: data/, the binary, logs, profiles
	Reuse     bool    // Dir holds a seeded store: skip seeding
	SeedOnly  bool    // seed Dir and stop
	Keep      bool    // keep Dir when the run ends
	Tack      string  // a tack binary; empty: build one into Dir
	Store     string  // an empty PostgreSQL database to copy the seed into and serve from; empty: SQLite
	StoreSeed string  // a database on Store's server that holds the copied seed, cloned into Store (made on first use)
	ServeArgs []string

	Duration  time.Duration // each scenario's
	Scenarios []string
	FloorRate int
	PostRate  int
	ListRate  int
	StatRate  int
	Conns     int
	ConnEvery time.Duration
	Profile   bool // CPU profile of the server under the post and list-busy scenarios
	Busy      int  // queued requests for DAGs that a peer apibench starts serves (see busy.go)

	busyCIDs    []cid.Cid // the DAGs of Busy, which the peer holds
	busyOrigins []string  // the peer's addresses

	Stdout io.Writer
}

// scenarioNames are the scenarios in the order they run.
var scenarioNames = []string{"floor", "post", "list", "list-big", "stat", "stat-big", "conns", "floor"}

// busyScenario runs only when asked for, with -busy.
const busyScenario = "list-busy"

func main() {
	c := Config{Stdout: os.Stdout}
	var reuse, scenarios, serveArgs string
	flag.IntVar(&c.N, "n", 1_000_000, "pin requests to seed")
	flag.IntVar(&c.Accounts, "accounts", 40, "small accounts with approved access, sharing what the big one does not hold")
	flag.Float64Var(&c.BigShare, "big-share", 0.5, "share of -n held by one big account")
	flag.StringVar(&c.SeedVia, "seed-via", "sql", "sql (bulk inserts into the store's file) or store (CreatePin from many goroutines; slow, for a changed schema)")
	flag.StringVar(&c.Dir, "dir", "", "working directory (default: a new temporary one, removed at the end)")
	flag.StringVar(&reuse, "reuse", "", "run on the store that -seed-only or -keep left in this directory")
	flag.BoolVar(&c.SeedOnly, "seed-only", false, "seed -dir and stop")
	flag.BoolVar(&c.Keep, "keep", false, "keep the working directory")
	flag.StringVar(&c.Tack, "tack", "", "tack binary to run (default: build ./cmd/tack)")
	flag.StringVar(&c.Store, "store", "", "postgres://… of an empty database: the seeded SQLite store is copied into it with `tack store copy`, and tack serves from it (default: serve the SQLite store)")
	flag.StringVar(&c.StoreSeed, "store-seed", "", "with -store: the name of a database on the same server that holds the seed as `tack store copy` left it (copied into it the first time, when it does not exist); each run clones it into -store's database, which must not exist, with CREATE DATABASE … TEMPLATE, and drops that at the end unless -keep")
	flag.StringVar(&serveArgs, "serve-args", "", "more `tack serve` flags, space-separated")
	flag.DurationVar(&c.Duration, "duration", 20*time.Second, "how long each scenario runs")
	flag.StringVar(&scenarios, "scenarios", strings.Join(scenarioNames, ","), "scenarios to run, comma-separated, in order")
	flag.IntVar(&c.FloorRate, "floor-rate", 100, "floor: requests per second")
	flag.IntVar(&c.PostRate, "post-rate", 1000, "post: requests per second")
	flag.IntVar(&c.ListRate, "list-rate", 10, "list, list-big: requests per second")
	flag.IntVar(&c.StatRate, "stat-rate", 100, "stat, stat-big: requests per second (4 per `service ls --stat`)")
	flag.IntVar(&c.Conns, "conns", 2000, "conns: concurrent keep-alive connections")
	flag.DurationVar(&c.ConnEvery, "conn-every", 2*time.Second, "conns: each connection's interval between requests")
	flag.BoolVar(&c.Profile, "profile", true, "save and print the server's CPU profile under the post and list-busy scenarios")
	flag.IntVar(&c.Busy, "busy", 0, "also seed this many queued requests for 1 KiB DAGs that a peer started by apibench serves, which the pinner fetches meanwhile (for the list-busy scenario; not with -reuse)")
	flag.Parse()
	if reuse != "" {
		c.Dir, c.Reuse = reuse, true
	}
	if scenarios != "" {
		c.Scenarios = strings.Split(scenarios, ",")
	}
	c.ServeArgs = strings.Fields(serveArgs)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := Run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "apibench:", err)
		os.Exit(1)
	}
}

// Run seeds (unless c.Reuse), starts tack serve, runs the scenarios and
// reports on them.
func Run(ctx context.Context, c Config) ([]*Result, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	if c.Dir == "" {
		dir, err := os.MkdirTemp("", "apibench-")
		if err != nil {
			return nil, err
		}
		c.Dir = dir
		if !c.Keep && !c.SeedOnly {
			defer os.RemoveAll(dir)
		}
	}
	var seed *Seed
	var err error
	if c.Busy > 0 {
		peer, cids, err := startBusyPeer(ctx, c.Busy)
		if err != nil {
			return nil, fmt.Errorf("starting the peer of -busy: %w", err)
		}
		defer peer.Close()
		c.busyCIDs, c.busyOrigins = cids, peer.Addrs()
		c.ServeArgs = append([]string{"--fetches", "256", "--allow-private-origins"}, c.ServeArgs...)
	}
	if c.Reuse {
		if seed, err = LoadSeed(c.Dir); err != nil {
			return nil, err
		}
		// Each run starts from the same store: a copy of the seeded one,
		// in a directory of its own that keeps the run's log and profile.
		run := filepath.Join(c.Dir, "run-"+time.Now().Format("20060102-150405"))
		if err := copyData(dataDir(c.Dir), dataDir(run)); err != nil {
			return nil, err
		}
		if !c.Keep {
			defer os.RemoveAll(dataDir(run))
		}
		fmt.Fprintf(c.Stdout, "reusing %s: %d pin requests, copied into %s\n", c.Dir, seed.N, run)
		c.Dir = run
	} else {
		start := time.Now()
		if seed, err = SeedStore(ctx, c); err != nil {
			return nil, fmt.Errorf("seeding: %w", err)
		}
		fmt.Fprintf(c.Stdout, "seeded %d pin requests in %s (%s) into %s\n", seed.N, time.Since(start).Round(time.Second/10), c.SeedVia, c.Dir)
	}
	if c.SeedOnly {
		fmt.Fprintf(c.Stdout, "run on it with: go run ./internal/cmd/apibench -reuse %s\n", c.Dir)
		return nil, nil
	}

	bin := c.Tack
	if bin == "" {
		if bin, err = buildTack(ctx, c.Dir); err != nil {
			return nil, err
		}
		if !c.Keep {
			defer os.Remove(bin)
		}
	}
	if c.Store != "" && c.StoreSeed != "" {
		drop, err := cloneStore(ctx, bin, c)
		if err != nil {
			return nil, err
		}
		if !c.Keep {
			defer drop()
		}
		c.ServeArgs = append(c.ServeArgs, "--store", c.Store)
	} else if c.Store != "" {
		if err := copyStore(ctx, bin, c); err != nil {
			return nil, err
		}
		c.ServeArgs = append(c.ServeArgs, "--store", c.Store)
	}
	srv, err := StartServer(ctx, bin, c.Dir, c.ServeArgs)
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	results, err := RunScenarios(ctx, c, srv, seed)
	if len(results) > 0 {
		Report(c.Stdout, c, seed, srv, results)
	}
	if err != nil {
		return results, err
	}
	if err := srv.Stop(); err != nil {
		return results, fmt.Errorf("tack serve: %w (see %s)", err, srv.LogPath)
	}
	return results, nil
}

func (c *Config) check() error {
	if c.Stdout == nil {
		c.Stdout = io.Discard
	}
	switch {
	case c.N < 1:
		return errors.New("-n must be at least 1")
	case c.Accounts < 1:
		return errors.New("-accounts must be at least 1")
	case c.BigShare < 0 || c.BigShare >= 1:
		return errors.New("-big-share must be at least 0 and less than 1")
	case c.SeedVia != "sql" && c.SeedVia != "store":
		return errors.New("-seed-via must be sql or store")
	case c.Reuse && c.SeedOnly:
		return errors.New("-reuse and -seed-only exclude each other")
	case c.SeedOnly && c.Dir == "":
		return errors.New("-seed-only needs -dir")
	case c.StoreSeed != "" && c.Store == "":
		return errors.New("-store-seed needs -store")
	case c.Duration <= 0 || c.Duration > time.Hour:
		return errors.New("-duration must be positive and at most an hour")
	case c.FloorRate < 1 || c.PostRate < 1 || c.ListRate < 1 || c.StatRate < 1:
		return errors.New("the rates must be at least 1 a second")
	case c.Busy < 0 || c.Busy > 0 && (c.Reuse || c.SeedOnly):
		return errors.New("-busy must be positive, and its peer lives only as long as the run: not with -reuse or -seed-only")
	case c.Conns < 1 || c.Conns > 10000:
		return errors.New("-conns must be between 1 and 10,000")
	case c.ConnEvery <= 0:
		return errors.New("-conn-every must be positive")
	}
	for _, s := range c.Scenarios {
		if s == busyScenario && c.Busy == 0 {
			return errors.New("the list-busy scenario needs -busy")
		}
		if !slices.Contains(scenarioNames, s) && s != busyScenario {
			return fmt.Errorf("unknown scenario %q: use %s", s, strings.Join(scenarioNames[:len(scenarioNames)-1], ", "))
		}
	}
	return nil
}

// copyStore copies the seeded SQLite store into c.Store with `tack store
// copy`, which checks the copy.
func copyStore(ctx context.Context, bin string, c Config) error {
	return copyStoreTo(ctx, bin, c, c.Store)
}

func copyStoreTo(ctx context.Context, bin string, c Config, to string) error {
	start := time.Now()
	cmd := exec.CommandContext(ctx, bin, "store", "copy", "--from", "sqlite://"+filepath.Join(dataDir(c.Dir), "tack.db"), "--to", to, "--sample", "100")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("tack store copy: %w\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	fmt.Fprintf(c.Stdout, "copied the store into PostgreSQL in %s: %s\n", time.Since(start).Round(time.Second/10), lines[len(lines)-1])
	return nil
}

// copyData copies the files of a data directory that a stopped tack
// leaves (the store, with the token key in it, its WAL if any, and the
// key file an older tack left, which a new store takes its key from) into
// a new one.
func copyData(from, to string) error {
	if err := os.MkdirAll(to, 0o700); err != nil {
		return err
	}
	for _, name := range []string{"tack.db", "tack.db-wal", "jwt.key"} {
		src, err := os.Open(filepath.Join(from, name))
		if errors.Is(err, os.ErrNotExist) && name != "tack.db" {
			continue
		} else if err != nil {
			return err
		}
		dst, err := os.OpenFile(filepath.Join(to, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			src.Close()
			return err
		}
		_, err = io.Copy(dst, src)
		src.Close()
		if err := errors.Join(err, dst.Close()); err != nil {
			return err
		}
	}
	return nil
}
