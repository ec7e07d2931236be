package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"os"
	"time"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/cluster"
	"github.com/tack-ipfs/tack/gc"
	"golang.org/x/time/rate"
)

// verifyEvery is the least time between the starts of two background
// verify passes.
const verifyEvery = 24 * time.Hour

// gcSpacing is how many times as long as the last collection took the
// next one waits at least after it ended: collections take at most a
// tenth of the time, however often pins are deleted.
const gcSpacing = 10

// gcNotifier passes the API's notices on to the pinner, and tells the
// collection schedule that a deletion made garbage.
type gcNotifier struct {
	tack.Notifier
	gc *gc.Schedule
}

func (n gcNotifier) Removed(id string) {
	n.gc.Dirty()
	n.Notifier.Removed(id)
}

// gcPinStore is the pinner's store: a request that fails leaves the
// blocks fetched for it, and those an upload kept for it, to a
// collection, which the schedule is told of.
type gcPinStore struct {
	tack.PinStore
	gc *gc.Schedule
}

func (s gcPinStore) FailPins(ctx context.Context, owner string, ids []string, reason string) error {
	err := s.PinStore.FailPins(ctx, owner, ids, reason)
	if err == nil && len(ids) > 0 {
		s.gc.Dirty()
	}
	return err
}

// collect runs one collection and logs what it did.
func (m *Main) collect(ctx context.Context) (gc.Report, error) {
	rep, err := m.Guard.Collect(ctx, m.DB)
	if errors.Is(err, gc.ErrBusy) {
		// Another node collects the shared blocks; this one's deletions
		// are in its store too, so the next round here may find nothing.
		m.Logger.Info("garbage collection skipped: another node is collecting")
		return rep, err
	}
	if err != nil {
		m.Logger.Error("garbage collection failed", "err", err, "partial", rep.String())
		return rep, err
	}
	m.Logger.Info("garbage collected", "freed_blocks", rep.Freed, "freed_bytes", rep.FreedSize, "scanned", rep.Scanned,
		"kept", rep.Live, "dags", rep.Roots, "forgotten", rep.Forgotten, "mark", rep.Mark.Round(time.Millisecond),
		"sweep", rep.Sweep.Round(time.Millisecond), "longest_pause", rep.Paused)
	return rep, nil
}

// newGCSchedule returns the schedule of collections on their own: --gc-delay
// after a pin is deleted or replaced or an upload refused, every
// --gc-interval otherwise, never sooner after the last one than gcSpacing
// times as long as it took.
func (m *Main) newGCSchedule() *gc.Schedule {
	return gc.NewSchedule(m.Config.GCDelay, m.Config.GCInterval, gcSpacing, func(ctx context.Context) error {
		_, err := m.collect(ctx)
		return err
	})
}

// runGC runs the collection schedule, unless --gc-interval is 0. The
// first collection without garbage made comes one --gc-interval after
// the start, so that a restart loop never collects.
func (m *Main) runGC(ctx context.Context) {
	if m.Config.GCInterval <= 0 {
		return
	}
	m.gcSchedule.Run(ctx)
}

// verify runs one verify pass at the given pace (nil: as fast as the
// blockstore goes), logs it and wakes the pinner for what it queued.
func (m *Main) verify(ctx context.Context, limit *rate.Limiter) (gc.VerifyReport, error) {
	rep, err := gc.Verify(ctx, m.DB, m.Blocks, limit, m.Logger)
	if err != nil {
		if ctx.Err() == nil {
			m.Logger.Error("verify failed", "err", err, "partial", rep.String())
		}
		return rep, err
	}
	m.Logger.Info("verified", "dags", rep.DAGs, "blocks", rep.Blocks, "broken", len(rep.Broken), "requeued", rep.Requeued, "took", rep.Took.Round(time.Millisecond))
	if rep.Requeued > 0 {
		m.Pinner.Queued()
	}
	return rep, nil
}

// runVerify walks every pinned DAG in the background at --verify-rate
// blocks a second, one pass a day at most, the first an hour after start.
func (m *Main) runVerify(ctx context.Context) {
	if m.Config.VerifyRate <= 0 {
		return
	}
	limit := rate.NewLimiter(rate.Limit(m.Config.VerifyRate), m.Config.VerifyRate)
	wait := time.Hour
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		start := time.Now()
		if _, err := m.verify(ctx, limit); err != nil && ctx.Err() != nil {
			return
		}
		wait = max(verifyEvery-time.Since(start), time.Hour)
	}
}

// The control socket lets 'tack gc' and 'tack verify' ask the running
// server to do the work, since only one process can open the blockstore.
// It is a Unix socket in the data directory, so it is open to whoever may
// read the data directory anyway.
const controlSocket = "tack.sock"

func (m *Main) serveControl() error {
	path := m.Config.path(controlSocket)
	os.Remove(path) // a previous run's, if it was killed: serve.lock is ours
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("control socket: %w", err)
	}
	mux := nethttp.NewServeMux()
	mux.HandleFunc("POST /gc", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		rep, err := m.collect(r.Context())
		reply(w, rep, rep.String(), err)
	})
	mux.HandleFunc("POST /verify", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		rep, err := m.verify(r.Context(), nil)
		reply(w, rep, rep.String(), err)
	})
	m.control = &nethttp.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if err := m.control.Serve(ln); err != nil && !errors.Is(err, nethttp.ErrServerClosed) {
			m.Logger.Error("control socket stopped", "err", err)
		}
	}()
	return nil
}

// controlReply is what the control socket answers.
type controlReply struct {
	Summary string          `json:"summary"`
	Report  json.RawMessage `json:"report"`
	Error   string          `json:"error,omitempty"`
}

func reply(w nethttp.ResponseWriter, rep any, summary string, err error) {
	out := controlReply{Summary: summary}
	out.Report, _ = json.Marshal(rep)
	if err != nil {
		out.Error = err.Error()
		w.WriteHeader(nethttp.StatusInternalServerError)
	}
	json.NewEncoder(w).Encode(out)
}

// runMaintenance runs 'tack gc' or 'tack verify': through the running
// server's control socket if it is serving, on the data directory itself
// if not.
func runMaintenance(ctx context.Context, what string, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("tack "+what, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := DefaultConfig()
	fs.StringVar(&cfg.Data, "data", cfg.Data, "data directory of the tack to maintain")
	fs.StringVar(&cfg.Store, "store", cfg.Store, storeHelp)
	fs.StringVar(&cfg.Blocks, "blocks", cfg.Blocks, "where blocks are stored, as for tack serve (used when tack is not serving)")
	fs.Var(sizeFlag{&cfg.BlocksCache}, "blocks-cache", "with S3 blocks, bytes of the local cache, as for tack serve")
	fs.Var(reserveFlag{&cfg.DiskReserve}, "disk-reserve", reserveHelp)
	if err := parse(fs, args, getenv, "data", "store", "blocks", "blocks-cache", "disk-reserve"); err != nil {
		return err
	}
	// Every tack serve leaves its node key, whether its blocks are here
	// or in a bucket.
	if _, err := os.Stat(cfg.path("node.key")); err != nil {
		return fmt.Errorf("no tack data in %s", cfg.Data)
	}
	lock, err := lockDir(cfg.path("serve.lock"))
	if err != nil {
		// Serving: ask the server.
		out, err := askControl(ctx, cfg.path(controlSocket), what)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, out.Summary)
		if out.Error != "" {
			return &exitError{1, errors.New(out.Error)}
		}
		return nil
	}
	defer lock.Close()
	// Not serving: open the stores, which must be where tack serve keeps
	// them. On a full disk, the reserve goes first, as for tack serve: a
	// collection is what frees room.
	logger := newLogger("text", stderr)
	room, err := openRoom(cfg.Data, cfg.DiskReserve, logger)
	if err != nil {
		return err
	}
	store, err := parseStore(cfg.Store, cfg.Data)
	if err != nil {
		return err
	}
	if store.sqlite != "" {
		if _, err := os.Stat(store.sqlite); err != nil {
			return fmt.Errorf("no tack database at %s", store)
		}
		if err := checkSQLite(store.sqlite); err != nil {
			return err
		}
	}
	db, err := openStore(ctx, store, tack.Limits{})
	if err != nil {
		return err
	}
	defer db.Close()
	bs, err := openBlocks(ctx, cfg, db, getenv, logger, room.blockOptions()...)
	if err != nil {
		return err
	}
	defer bs.Close()
	// The room the collection freed makes the reserve again.
	defer room.remake()
	switch what {
	case "gc":
		guard, err := gc.NewGuard(bs, db)
		if err != nil {
			return err
		}
		if _, err := gc.ImportKeepFiles(ctx, cfg.path("keep"), db); err != nil {
			return err
		}
		if cfg.Blocks != "" {
			// Other nodes may serve from the same bucket: collect with
			// them, as a node of its own for the time of the collection.
			guard.SetCluster(cluster.GC(db, "tack-gc-"+rand.Text(), cfg.Blocks))
		}
		rep, err := guard.Collect(ctx, db)
		fmt.Fprintln(stdout, rep)
		return err
	default:
		rep, err := gc.Verify(ctx, db, bs, nil, logger)
		fmt.Fprintln(stdout, rep)
		return err
	}
}

// askControl asks the server listening on the control socket to run a
// collection or a verify pass, and returns its answer.
func askControl(ctx context.Context, path, what string) (*controlReply, error) {
	client := &nethttp.Client{Transport: &nethttp.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		},
	}}
	req, err := nethttp.NewRequestWithContext(ctx, "POST", "http://tack/"+what, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("tack is serving from this data directory, but its control socket does not answer: %w", err)
	}
	defer resp.Body.Close()
	var out controlReply
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return &out, nil
}
