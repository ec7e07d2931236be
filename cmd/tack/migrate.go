package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/multiformats/go-multiaddr"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/migrate"
)

// runMigrate runs `tack migrate`. Usage errors are returned as they are
// (status 2); everything after the flags ends in an *exitError (status 1).
func runMigrate(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	mg, err := parseMigrate(args, stdin, stdout, stderr, getenv)
	if err != nil {
		return err
	}
	if err := migrate.Run(ctx, mg); err != nil {
		return &exitError{1, err}
	}
	return nil
}

// parseMigrate reads the flags of `tack migrate` and TACK_… environment
// variables: TACK_TOKEN and TACK_FROM_TOKEN keep tokens out of `ps`.
func parseMigrate(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) (migrate.Config, error) {
	mg := migrate.Config{Stdin: stdin, Stdout: stdout, Stderr: stderr}
	fs := flag.NewFlagSet("tack migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&mg.From, "from", "", "source: the URL of a Pinning Service API whose pinned requests to migrate")
	fs.StringVar(&mg.FromToken, "from-token", "", "the source's API token (or TACK_FROM_TOKEN)")
	fs.StringVar(&mg.FromFile, "from-file", "", "source: a file of CIDs, one a line with an optional name, as `ipfs pin ls` prints them; - for standard input")
	fs.StringVar(&mg.To, "to", "", "target: the URL of a Pinning Service API")
	fs.StringVar(&mg.Token, "token", "", "the target's API token (or TACK_TOKEN)")
	origins := &originList{v: &mg.Origins}
	fs.Var(origins, "origin", "a multiaddr of a peer that holds the content, sent as origins with every pin; repeat it or separate them with commas")
	fs.IntVar(&mg.Concurrency, "concurrency", migrate.DefaultConcurrency, "requests at a time")
	fs.BoolVar(&mg.Wait, "wait", false, "follow the new pins until each is pinned or failed")
	fs.BoolVar(&mg.DryRun, "dry-run", false, "check everything and print what would be done, creating nothing")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: tack migrate (--from URL --from-token T | --from-file FILE|-) --to URL --token T\n"+
			"                    [--origin MADDR,…]… [--concurrency N] [--wait] [--dry-run]\n\n")
		fs.PrintDefaults()
	}
	var fromEnv []string
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name != "origin" {
			fromEnv = append(fromEnv, f.Name)
		}
	})
	if err := parse(fs, args, getenv, fromEnv...); err != nil {
		return migrate.Config{}, err
	}
	// --origin adds to itself, so the environment's value is used only
	// when no flag gives one.
	if v := getenv("TACK_ORIGIN"); v != "" && len(mg.Origins) == 0 {
		if err := origins.Set(v); err != nil {
			return migrate.Config{}, fmt.Errorf("TACK_ORIGIN: %w", err)
		}
	}

	switch {
	case mg.From == "" && mg.FromFile == "":
		return migrate.Config{}, errors.New("give a source: --from URL --from-token T, or --from-file FILE (- for standard input)")
	case mg.From != "" && mg.FromFile != "":
		return migrate.Config{}, errors.New("give one source: --from or --from-file, not both")
	case mg.To == "":
		return migrate.Config{}, errors.New("give the target: --to URL --token T")
	case mg.Token == "":
		return migrate.Config{}, errors.New("give the target's API token: --token T, or TACK_TOKEN")
	case mg.From != "" && mg.FromToken == "":
		return migrate.Config{}, errors.New("give the source's API token: --from-token T, or TACK_FROM_TOKEN")
	case mg.Concurrency < 1 || mg.Concurrency > 100:
		return migrate.Config{}, errors.New("--concurrency must be from 1 to 100")
	case mg.Wait && mg.DryRun:
		return migrate.Config{}, errors.New("--wait and --dry-run do not go together: a dry run creates nothing to wait for")
	case len(mg.Origins) > tack.MaxOrigins:
		return migrate.Config{}, fmt.Errorf("at most %d --origin addresses", tack.MaxOrigins)
	}
	var err error
	if mg.To, err = serviceURL("--to", mg.To); err != nil {
		return migrate.Config{}, err
	}
	if mg.From != "" {
		if mg.From, err = serviceURL("--from", mg.From); err != nil {
			return migrate.Config{}, err
		}
	}
	return mg, nil
}

// serviceURL checks the URL of a Pinning Service API, the one Kubo's `ipfs
// pin remote service add` takes, and drops a trailing slash.
func serviceURL(flag, s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%s must be an http:// or https:// URL, not %q", flag, s)
	}
	return strings.TrimRight(s, "/"), nil
}

// originList is the value of --origin: multiaddrs, from each use of the
// flag and comma-separated within one.
type originList struct{ v *[]multiaddr.Multiaddr }

func (l *originList) String() string {
	if l.v == nil {
		return ""
	}
	var s []string
	for _, ma := range *l.v {
		s = append(s, ma.String())
	}
	return strings.Join(s, ",")
}

func (l *originList) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		ma, err := multiaddr.NewMultiaddr(p)
		if err != nil {
			return fmt.Errorf("%q is not a multiaddr: %v", p, err)
		}
		*l.v = append(*l.v, ma)
	}
	return nil
}
