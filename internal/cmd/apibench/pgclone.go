package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// cloneStore makes c.Store's database, which must not exist, a clone of
// the database c.StoreSeed on the same server, first copying the seed
// into c.StoreSeed if that does not exist. The clone is made with
// STRATEGY FILE_COPY, which checkpoints before and after and writes no
// WAL for the copied files, so that a run does not start with a
// checkpoint of a whole copy ahead of it. It returns a function that
// drops the clone.
func cloneStore(ctx context.Context, bin string, c Config) (drop func(), err error) {
	// pgxpool's parser takes the pool_* parameters tack's URL may have.
	pcfg, err := pgxpool.ParseConfig(c.Store)
	if err != nil {
		return nil, fmt.Errorf("-store: %w", err)
	}
	cfg := pcfg.ConnConfig
	target := cfg.Database
	if target == "" || target == c.StoreSeed {
		return nil, errors.New("-store must name a database other than -store-seed")
	}
	admin := cfg.Copy()
	admin.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", admin.Host, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, c.StoreSeed).Scan(&exists); err != nil {
		return nil, err
	}
	if !exists {
		if _, err := conn.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{c.StoreSeed}.Sanitize()); err != nil {
			return nil, fmt.Errorf("create %s: %w", c.StoreSeed, err)
		}
		seedURL, err := withDatabase(c.Store, c.StoreSeed)
		if err != nil {
			return nil, err
		}
		if err := copyStoreTo(ctx, bin, c, seedURL); err != nil {
			conn.Exec(context.WithoutCancel(ctx), `DROP DATABASE `+pgx.Identifier{c.StoreSeed}.Sanitize())
			return nil, err
		}
	}
	start := time.Now()
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{target}.Sanitize()+
		` TEMPLATE `+pgx.Identifier{c.StoreSeed}.Sanitize()+` STRATEGY FILE_COPY`); err != nil {
		return nil, fmt.Errorf("clone %s into %s: %w", c.StoreSeed, target, err)
	}
	fmt.Fprintf(c.Stdout, "cloned database %s into %s in %s\n", c.StoreSeed, target, time.Since(start).Round(time.Second/10))
	return func() {
		ctx := context.WithoutCancel(ctx)
		conn, err := pgx.ConnectConfig(ctx, admin)
		if err != nil {
			fmt.Fprintf(c.Stdout, "dropping %s: %v\n", target, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP DATABASE `+pgx.Identifier{target}.Sanitize()+` WITH (FORCE)`); err != nil {
			fmt.Fprintf(c.Stdout, "dropping %s: %v\n", target, err)
		}
	}, nil
}

// withDatabase returns the postgres:// URL u naming database db instead.
func withDatabase(u, db string) (string, error) {
	p, err := url.Parse(u)
	if err != nil {
		return "", fmt.Errorf("-store: %w", err)
	}
	p.Path = "/" + db
	return p.String(), nil
}
