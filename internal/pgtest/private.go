package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	execpkg "os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresBin is where Debian's PostgreSQL 15 keeps initdb, pg_ctl and
// postgres; TACK_POSTGRES_BIN overrides it.
const PostgresBin = "/usr/lib/postgresql/15/bin"

// Private is a PostgreSQL server of one test's own, on a port of
// 127.0.0.1 that nothing else uses, which the test may stop and start
// again: tests of outages break this one, never the shared server.
type Private struct {
	dir  string // the cluster's data directory, also its socket directory
	port int
	bin  string
	cred *syscall.Credential // the user the server runs as, when tests run as root
}

// NewPrivate makes (initdb) a cluster in a temporary directory, without
// starting it, and removes it when tb ends, stopping the server first.
// PostgreSQL refuses to run as root: as root, the cluster belongs to the
// "postgres" user. It skips tb if initdb is missing, unless
// TACK_POSTGRES_TESTS=required.
func NewPrivate(tb testing.TB) *Private {
	tb.Helper()
	bin := os.Getenv("TACK_POSTGRES_BIN")
	if bin == "" {
		bin = PostgresBin
	}
	if _, err := os.Stat(filepath.Join(bin, "initdb")); err != nil {
		if os.Getenv("TACK_POSTGRES_TESTS") == "required" {
			tb.Fatalf("pgtest: no initdb in %s (set TACK_POSTGRES_BIN): %v (TACK_POSTGRES_TESTS=required)", bin, err)
		}
		tb.Skipf("pgtest: no initdb in %s (set TACK_POSTGRES_BIN): %v", bin, err)
	}
	// Not tb.TempDir: its parents are private to root.
	dir, err := os.MkdirTemp("", "tack-pgtest-")
	if err != nil {
		tb.Fatal(err)
	}
	p := &Private{dir: filepath.Join(dir, "cluster"), port: freePort(tb), bin: bin}
	tb.Cleanup(func() {
		p.pgctl("stop", "-m", "immediate", "-w")
		os.RemoveAll(dir)
	})
	if err := os.Mkdir(p.dir, 0o700); err != nil {
		tb.Fatal(err)
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			tb.Fatalf("pgtest: running as root, and there is no postgres user to run PostgreSQL as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chmod(dir, 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.Chown(p.dir, uid, gid); err != nil {
			tb.Fatal(err)
		}
	}
	if out, err := p.command("initdb", "-D", p.dir, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8").CombinedOutput(); err != nil {
		tb.Fatalf("pgtest: initdb: %v\n%s", err, out)
	}
	return p
}

// StartPrivate makes a cluster with NewPrivate and starts it.
func StartPrivate(tb testing.TB) *Private {
	tb.Helper()
	p := NewPrivate(tb)
	p.Start(tb)
	return p
}

// URL returns the URL of the server's postgres database, as its superuser.
func (p *Private) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// Start starts the server and waits until it takes connections.
func (p *Private) Start(tb testing.TB) {
	tb.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100", p.port, p.dir)
	if out, err := p.pgctl("start", "-w", "-t", "60", "-l", filepath.Join(p.dir, "log"), "-o", opts); err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "log"))
		tb.Fatalf("pgtest: pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, p.URL())
		if err == nil {
			conn.Close(ctx)
			return
		}
		if ctx.Err() != nil {
			tb.Fatalf("pgtest: the private server does not answer: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops the server (fast: open connections are ended) and waits
// until it has.
func (p *Private) Stop(tb testing.TB) {
	tb.Helper()
	if out, err := p.pgctl("stop", "-m", "fast", "-w", "-t", "60"); err != nil {
		tb.Fatalf("pgtest: pg_ctl stop: %v\n%s", err, out)
	}
}

func (p *Private) pgctl(args ...string) ([]byte, error) {
	return p.command("pg_ctl", append([]string{"-D", p.dir}, args...)...).CombinedOutput()
}

func (p *Private) command(name string, args ...string) *execpkg.Cmd {
	cmd := execpkg.Command(filepath.Join(p.bin, name), args...)
	cmd.Dir = os.TempDir()
	if p.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	}
	return cmd
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
