package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/postgres"
	"github.com/tack-ipfs/tack/sqlite"
)

// storeHelp is the help text of every command's --store flag.
const storeHelp = "metadata store: sqlite://PATH, or postgres://USER@HOST/DB?… for several tack processes sharing one database (default: SQLite at DATA/tack.db)"

// storeLocation is a parsed --store: an SQLite file or a PostgreSQL URL.
type storeLocation struct {
	sqlite   string // the database file, if SQLite
	postgres string // the connection URL, if PostgreSQL
}

// parseStore reads a --store value; "" is SQLite in the data directory.
func parseStore(s, data string) (storeLocation, error) {
	switch {
	case s == "":
		return storeLocation{sqlite: filepath.Join(data, "tack.db")}, nil
	case strings.HasPrefix(s, "sqlite://"):
		path := strings.TrimPrefix(s, "sqlite://")
		if path == "" {
			return storeLocation{}, fmt.Errorf("--store %q names no file: use sqlite://PATH, like sqlite:///var/lib/tack/tack.db", s)
		}
		return storeLocation{sqlite: path}, nil
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		return storeLocation{postgres: s}, nil
	}
	return storeLocation{}, fmt.Errorf("--store %q: use sqlite://PATH or postgres://USER@HOST:PORT/DATABASE (or leave it empty for SQLite in the data directory)", redact(s))
}

// String names the store without its password.
func (l storeLocation) String() string {
	if l.sqlite != "" {
		return "sqlite://" + l.sqlite
	}
	return redact(l.postgres)
}

// redact hides the password of a URL (user:password@host).
func redact(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	at := strings.LastIndex(rest, "@")
	if slash := strings.Index(rest, "/"); at < 0 || (slash >= 0 && at > slash) {
		return s
	}
	if user, _, ok := strings.Cut(rest[:at], ":"); ok {
		return scheme + "://" + user + ":xxxxx" + rest[at:]
	}
	return s
}

// openStore opens the metadata store at l, with limits as the default
// limits of accounts. A PostgreSQL that does not answer is an error at
// once, which says so: tack does not wait for it.
func openStore(ctx context.Context, l storeLocation, limits tack.Limits) (tack.Store, error) {
	if l.postgres != "" {
		db, err := postgres.Open(ctx, l.postgres)
		var outage *tack.Error
		if tack.IsOutage(err) && errors.As(err, &outage) {
			// tack does not wait for it: see docs/operating.md.
			return nil, fmt.Errorf("PostgreSQL does not answer (is it running, and reachable from here?): %w", outage.Err)
		} else if err != nil {
			return nil, err
		}
		db.Limits = limits
		return db, nil
	}
	db, err := sqlite.Open(ctx, l.sqlite)
	if err != nil {
		return nil, err
	}
	db.Limits = limits
	return db, nil
}
