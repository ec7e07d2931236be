// Package pgtest gives tests their own PostgreSQL databases: one per run
// or per subtest, made from a migrated template so that each costs a
// CREATE DATABASE, and dropped when the test ends.
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
	"net/url"
	"os"
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
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
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
// is copied.
type Template struct {
	server, name string
}

// NewTemplate creates a migrated template database, dropped when tb ends.
// Call it in the parent test, and New in each subtest.
func NewTemplate(tb testing.TB) *Template {
	tb.Helper()
	server := Server(tb)
	name := randomName("tack_test_tmpl_")
	exec(tb, server, `CREATE DATABASE `+name)
	tb.Cleanup(func() { exec(tb, server, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`) })
	db, err := postgres.Open(tb.Context(), withDatabase(tb, server, name))
	if err != nil {
		tb.Fatalf("migrate the template: %v", err)
	}
	db.Close() // a template must have no connections
	return &Template{server: server, name: name}
}

// New creates a database from the template, drops it when tb ends, and
// returns its URL.
func (t *Template) New(tb testing.TB) string {
	tb.Helper()
	return create(tb, t.server, t.name)
}
