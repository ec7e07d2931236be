// Package pgtest gives tests their own PostgreSQL databases: one per run
// or per subtest, made from a migrated template so that each costs a
// CREATE DATABASE, and dropped when the test ends.
//
// The migrated template is made once per test binary (Shared), and
// dropped when the binary ends: a package that uses it runs its tests
// through Main, from TestMain.
//
// The server is TACK_POSTGRES_URL (default
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable), a role
// that may create databases. Tests skip when it cannot be reached, unless
// TACK_POSTGRES_TESTS=required, when they fail.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tack-ipfs/tack/postgres"
)

// DefaultURL is the server tests use when TACK_POSTGRES_URL is not set.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Server returns the URL of the server's maintenance database, or skips
// the test if the server does not answer (fails it, if
// TACK_POSTGRES_TESTS=required).
func Server(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("TACK_POSTGRES_URL")
	if u == "" {
		u = DefaultURL
	}
	ctx, cancel := context.WithTimeout(tb.Context(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		if os.Getenv("TACK_POSTGRES_TESTS") == "required" {
			tb.Fatalf("PostgreSQL at %s: %v (TACK_POSTGRES_TESTS=required)", u, err)
		}
		tb.Skipf("PostgreSQL at %s: %v (set TACK_POSTGRES_URL, or TACK_POSTGRES_TESTS=required to fail)", u, err)
	}
	conn.Close(ctx)
	return u
}

// randomName returns prefix followed by random hex.
func randomName(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// withDatabase returns server's URL with the database name replaced.
func withDatabase(tb testing.TB, server, name string) string {
	tb.Helper()
	u, err := url.Parse(server)
	if err != nil {
		tb.Fatalf("TACK_POSTGRES_URL %q: %v", server, err)
	}
	u.Path = "/" + name
	return u.String()
}

// exec runs one statement on the server's maintenance database.
func exec(tb testing.TB, server, sql string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := execErr(ctx, server, sql); err != nil {
		tb.Fatal(err)
	}
}

// execErr runs one statement on the server's maintenance database.
func execErr(ctx context.Context, server, sql string) error {
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

// NewDatabase creates an empty database, tack_test_<random>, drops it when
// the test ends, and returns its URL.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	server := Server(tb)
	return create(tb, server, "")
}

func create(tb testing.TB, server, template string) string {
	tb.Helper()
	name := randomName("tack_test_")
	sql := `CREATE DATABASE ` + name
	if template != "" {
		sql += ` TEMPLATE ` + template
	}
	exec(tb, server, sql)
	tb.Cleanup(func() { exec(tb, server, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`) })
	return withDatabase(tb, server, name)
}

// Template is a database with tack's whole schema, from which each New
// is copied. Copies may be made concurrently.
type Template struct {
	server, name string
}

// shared is the binary's template: made by the first Shared, dropped by
// Main.
var shared struct {
	sync.Mutex
	main bool // Main is running the tests
	tmpl *Template
}

// Main runs the package's tests, and drops the template Shared made, if
// any. Call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
func Main(m *testing.M) int {
	shared.Lock()
	shared.main = true
	shared.Unlock()
	code := m.Run()
	shared.Lock()
	defer shared.Unlock()
	if t := shared.tmpl; t != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := execErr(ctx, t.server, `DROP DATABASE IF EXISTS `+t.name+` WITH (FORCE)`); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: drop the template %s: %v\n", t.name, err)
		}
	}
	return code
}

// Shared returns the binary's migrated template, made on the first call:
// the migrations run once per test binary, and each New costs only a
// CREATE DATABASE. The package's TestMain must run its tests through
// Main, which drops the template at the end.
func Shared(tb testing.TB) *Template {
	tb.Helper()
	server := Server(tb)
	shared.Lock()
	defer shared.Unlock()
	if !shared.main {
		tb.Fatal("pgtest.Shared: the package's TestMain must call pgtest.Main, which drops the template")
	}
	if shared.tmpl == nil {
		name := randomName("tack_test_tmpl_")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := execErr(ctx, server, `CREATE DATABASE `+name); err != nil {
			tb.Fatalf("create the template: %v", err)
		}
		// From here Main drops it, even if the migrations fail.
		shared.tmpl = &Template{server: server, name: name}
		db, err := postgres.Open(ctx, withDatabase(tb, server, name))
		if err != nil {
			shared.tmpl = nil
			execErr(ctx, server, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
			tb.Fatalf("migrate the template: %v", err)
		}
		db.Close() // a template must have no connections
	}
	return shared.tmpl
}

// New creates a database from the template, drops it when tb ends, and
// returns its URL.
func (t *Template) New(tb testing.TB) string {
	tb.Helper()
	return create(tb, t.server, t.name)
}
