package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	nethttp "net/http"
	"syscall"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/blockstore"
	"github.com/tack-ipfs/tack/http"
	"github.com/tack-ipfs/tack/internal/lograte"
)

// newLogger returns the logger of --log-format: slog's TextHandler
// (key=value) or JSONHandler (one object a line), rate-limited by kind.
func newLogger(format string, w io.Writer) *slog.Logger {
	var h slog.Handler = slog.NewTextHandler(w, nil)
	if format == "json" {
		h = slog.NewJSONHandler(w, nil)
	}
	// A fault repeated many times a second (a full disk, a store that
	// does not answer) must not flood the log, nor the disk it is short
	// of: ten lines of a kind a minute, then one that counts the rest.
	return slog.New(lograte.New(h, lograte.DefaultLines, lograte.DefaultInterval))
}

// Drain marks the server as shutting down: /readyz answers 503 from now
// on, so that a load balancer stops sending requests. Close calls it
// first; an operator's wrapper may call it earlier and wait a little.
func (m *Main) Drain() { m.draining.Store(true) }

// readyProbe is a CID that no block has (the sha2-256 of this string), so
// that /readyz's Has reads the blockstore's index and directory and finds
// nothing.
var readyProbe = func() cid.Cid {
	h, _ := multihash.Sum([]byte("tack /readyz probe"), multihash.SHA2_256, -1)
	return cid.NewCidV1(cid.Raw, h)
}()

// readiness is what /readyz checks: one indexed lookup in the store, one
// Has in the blockstore, a HEAD of the bucket (S3 blocks), room on the
// data directory's disk (--min-free), and that Close has not begun.
func (m *Main) readiness() http.Readiness {
	checks := map[string]func(context.Context) error{
		"store": func(ctx context.Context) error {
			// No account has ID 0: a primary key lookup that finds
			// nothing.
			_, err := m.DB.FindAccountByID(ctx, 0)
			switch {
			case err == nil || tack.ErrorCode(err) == tack.ENOTFOUND:
				return nil
			case tack.ErrorCode(err) == tack.EUNAVAILABLE:
				return err
			}
			return tack.Unavailable(tack.MsgStoreUnavailable, err)
		},
		"blockstore": func(ctx context.Context) error {
			_, err := m.Blocks.Has(ctx, readyProbe)
			if err != nil && tack.ErrorCode(err) != tack.EUNAVAILABLE {
				err = tack.Unavailable(tack.MsgBlockstoreUnavailable, err)
			}
			return err
		},
	}
	if p, ok := m.Blocks.(blockstore.Prober); ok {
		checks["bucket"] = func(ctx context.Context) error {
			if err := p.Probe(ctx); err != nil {
				return tack.Unavailable(tack.MsgBlockstoreUnavailable, err)
			}
			return nil
		}
	}
	if minFree := m.Config.MinFree; minFree > 0 {
		checks["disk"] = func(context.Context) error { return checkRoom(m.Config.Data, minFree) }
	}
	return http.Readiness{Checks: checks, Draining: m.draining.Load}
}

// checkRoom returns an EUNAVAILABLE error if the disk of dir has less than
// min bytes free for tack (the blocks, the SQLite database, the cache).
func checkRoom(dir string, min int64) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return fmt.Errorf("the data directory's disk: %w", err)
	}
	free := int64(st.Bavail) * st.Bsize
	if free < min {
		return tack.Unavailable(fmt.Sprintf("%s free on the data directory's disk, under --min-free %s: not ready for writes",
			humanBytes(free), humanBytes(min)), fmt.Errorf("statfs %s: %d bytes available", dir, free))
	}
	return nil
}

// humanBytes writes n in the largest binary unit that leaves a number of
// at least 1, with one decimal: 512.0MiB.
func humanBytes(n int64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return fmt.Sprintf("%dB", n)
	}
	v, i := float64(n)/1024, 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f%ciB", v, units[i])
}

// serveMetrics serves the Prometheus metrics on --metrics-listen, to
// anyone who reaches the address: the API's address then does not serve
// them at all.
func (m *Main) serveMetrics(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--metrics-listen: %w", err)
	}
	m.metricsListener = ln
	mux := nethttp.NewServeMux()
	mux.Handle("GET /metrics", m.Metrics.Handler())
	m.metricsServer = &nethttp.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if err := m.metricsServer.Serve(ln); err != nil && !errors.Is(err, nethttp.ErrServerClosed) {
			m.Logger.Error("metrics server stopped", "err", err)
		}
	}()
	m.Logger.Info("serving Prometheus metrics", "metrics", "http://"+ln.Addr().String()+"/metrics")
	return nil
}

// MetricsAddr returns the address of --metrics-listen, or "" if there is
// none.
func (m *Main) MetricsAddr() string {
	if m.metricsListener == nil {
		return ""
	}
	return m.metricsListener.Addr().String()
}
