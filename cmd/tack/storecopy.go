package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/tack-ipfs/tack"
)

// runStore runs `tack store copy`.
func runStore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const usage = "usage: tack store copy --from sqlite://PATH --to postgres://USER@HOST/DATABASE [--sample N]"
	if len(args) == 0 || args[0] != "copy" {
		return errors.New(usage)
	}
	fs := flag.NewFlagSet("tack store copy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "the store to copy: sqlite://PATH (stop the tack that uses it first)")
	to := fs.String("to", "", "the empty store to copy into: postgres://…")
	sample := fs.Int("sample", 100, "rows of each table, chosen at random, compared field by field after the copy")
	// No TACK_… variables here: TACK_STORE names a store to serve, not one
	// to overwrite.
	if err := parse(fs, args[1:], func(string) string { return "" }); err != nil {
		return err
	}
	if *from == "" || *to == "" {
		return errors.New(usage)
	}
	src, err := openCopyStore(ctx, *from)
	if err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	defer src.Close()
	dst, err := openCopyStore(ctx, *to)
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	defer dst.Close()
	exp, ok := src.(tack.Exporter)
	if !ok {
		return fmt.Errorf("--from: this store cannot be copied from")
	}
	imp, ok := dst.(tack.Importer)
	if !ok {
		return fmt.Errorf("--to: tack copies into PostgreSQL only")
	}
	start := time.Now()
	if err := tack.CopyRows(ctx, exp, imp, stdout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "copied in %v; checking\n", time.Since(start).Round(time.Millisecond))
	if err := tack.VerifyCopy(ctx, exp, imp, *sample, stdout); err != nil {
		return &exitError{1, err}
	}
	return nil
}

// openCopyStore opens the store at url, which must be given.
func openCopyStore(ctx context.Context, url string) (tack.Store, error) {
	l, err := parseStore(url, "")
	if err != nil {
		return nil, err
	}
	if l.sqlite != "" {
		// Opening would make an empty database: a mistyped path would
		// copy nothing and say the copy matches.
		if _, err := os.Stat(l.sqlite); err != nil {
			return nil, fmt.Errorf("no tack database at %s", l.sqlite)
		}
	}
	return openStore(ctx, l, tack.Limits{})
}
