package pgtest

import (
	"fmt"
	"net"
	"os"
	osexec "os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// Private is a PostgreSQL server of a test's own, for a test that stops
// or breaks it: never the shared one. It runs from a fresh initdb in a
// temporary directory, on a free port of 127.0.0.1, as the user postgres
// when the test runs as root (PostgreSQL refuses to run as root).
type Private struct {
	url            string
	bin, dir, port string
	cred           *syscall.Credential
}

// Binaries returns the folder of PostgreSQL's programs: TACK_POSTGRES_BIN,
// else /usr/lib/postgresql/15/bin, or "" if it has no initdb.
func Binaries() string {
	dir := os.Getenv("TACK_POSTGRES_BIN")
	if dir == "" {
		dir = "/usr/lib/postgresql/15/bin"
	}
	if _, err := os.Stat(filepath.Join(dir, "initdb")); err != nil {
		return ""
	}
	return dir
}

// StartPrivate makes and starts a private server, stopped and removed
// when tb ends. Without PostgreSQL's programs it skips tb, unless
// TACK_POSTGRES_TESTS=required.
func StartPrivate(tb testing.TB) *Private {
	tb.Helper()
	bin := Binaries()
	if bin == "" {
		if os.Getenv("TACK_POSTGRES_TESTS") == "required" {
			tb.Fatal("pgtest: no initdb (set TACK_POSTGRES_BIN) and TACK_POSTGRES_TESTS=required")
		}
		tb.Skip("pgtest: no initdb; set TACK_POSTGRES_BIN")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	// Not tb.TempDir: its folders are the test user's alone, and the
	// server's user must reach this one.
	dir, err := os.MkdirTemp("", "tack-pg-")
	if err != nil {
		tb.Fatal(err)
	}
	p := &Private{url: fmt.Sprintf("postgres://postgres@127.0.0.1:%s/postgres?sslmode=disable", port), bin: bin, dir: dir, port: port}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			tb.Fatalf("pgtest: running as root, and no user postgres to run PostgreSQL as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			tb.Fatal(err)
		}
	}
	tb.Cleanup(func() {
		p.run("stop", "-m", "immediate")
		os.RemoveAll(dir)
	})
	if out, err := p.cmd("initdb", "-D", p.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		tb.Fatalf("pgtest: initdb: %v\n%s", err, out)
	}
	p.Start(tb)
	return p
}

// URL returns the server's URL,
// postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable.
func (p *Private) URL() string { return p.url }

func (p *Private) data() string { return filepath.Join(p.dir, "data") }

func (p *Private) cmd(name string, args ...string) *osexec.Cmd {
	c := osexec.Command(filepath.Join(p.bin, name), args...)
	c.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	c.Dir = p.dir
	return c
}

// run runs pg_ctl on the server's data.
func (p *Private) run(args ...string) ([]byte, error) {
	args = append([]string{"-D", p.data(), "-l", filepath.Join(p.dir, "log")}, args...)
	return p.cmd("pg_ctl", args...).CombinedOutput()
}

// Start starts the server and waits until it takes connections.
func (p *Private) Start(tb testing.TB) {
	tb.Helper()
	opts := fmt.Sprintf("-p %s -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", p.port, p.dir)
	if out, err := p.run("start", "-w", "-t", "60", "-o", opts); err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "log"))
		tb.Fatalf("pgtest: pg_ctl start: %v\n%s\n%s", err, out, log)
	}
}

// Stop stops the server (a fast shutdown: connections are closed, open
// transactions rolled back) and waits until it is down.
func (p *Private) Stop(tb testing.TB) {
	tb.Helper()
	if out, err := p.run("stop", "-w", "-m", "fast"); err != nil {
		tb.Fatalf("pgtest: pg_ctl stop: %v\n%s", err, out)
	}
}
