// Command tack runs a self-hostable IPFS remote pinning service.
//
//	tack serve                       run the service (embedded defaults: ./tack-data, http://127.0.0.1:8080)
//	tack account create|approve|deny|password|block|unblock|limits|purge|list
//	                                 manage accounts
//	tack token create|list|revoke    manage API tokens
//	tack migrate                     move pins from a pinning service or a list of CIDs into one
//	tack gc                          free the blocks no pin needs
//	tack verify                      check every pinned DAG's blocks, fetch again what is missing
//	tack store copy                  copy a store's rows to another (SQLite to PostgreSQL)
//	tack version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `tack: a self-hostable IPFS remote pinning service

Usage:
  tack serve   [--data DIR] [--store URL] [--listen HOST:PORT] [--p2p-listen MADDR,…] [--announce MADDR,…]
               [--bootstrap MADDR,…|none] [--dht auto|client|server|off] [--allow-private-origins]
               [--gateway-listen HOST:PORT [--gateway-url http(s)://HOST[:PORT]] [--gateway-mode subdomain|path]]
  tack account create  --data DIR --email E [--approve] [--admin]
  tack account approve --data DIR --email E [--message M]
  tack account deny    --data DIR --email E [--message M]
  tack account password --data DIR --email E < FILE   (the new password is the first line)
  tack account block   --data DIR --email E
  tack account unblock --data DIR --email E
  tack account limits  --data DIR --email E [--max-pending N|0|default] [--max-bytes SIZE|0|default]
  tack account purge   --data DIR --email E [--yes]   (deletes every pin request of the account)
  tack account list    --data DIR
  tack token create    --data DIR --email E [--name N] [--scope full|read]
  tack token list      --data DIR --email E
  tack token revoke    --data DIR --email E --id ID
  tack migrate (--from URL --from-token T | --from-file FILE|-) --to URL --token T
               [--origin MADDR,…]… [--concurrency N] [--wait] [--dry-run]
  tack gc     [--data DIR]    free the blocks that no pin needs, and say what was freed
  tack verify [--data DIR]    check that every pinned DAG's blocks are stored; fetch again what is missing
  tack store copy --from sqlite://PATH --to postgres://…   copy every account, token and pin request to an empty store
  tack version

Every flag can also be set as a TACK_… environment variable (--p2p-listen as TACK_P2P_LISTEN).
The account, token, gc and verify commands take --store URL (TACK_STORE) as serve does:
sqlite://PATH, postgres://USER@HOST/DATABASE, or empty for SQLite at DATA/tack.db.
Run 'tack COMMAND -h' for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal ends ctx, which every command waits on; a second
	// one ends the process at once, whatever the first could not stop.
	context.AfterFunc(ctx, stop)
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "tack:", err)
		}
		var exit *exitError
		if errors.As(err, &exit) {
			os.Exit(exit.code)
		}
		os.Exit(2)
	}
}

// exitError ends tack with its code rather than 2, the status of usage
// errors: a command that ran, reported what failed, and exits 1.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// run dispatches a command line.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr, getenv)
	case "account":
		return runAccount(ctx, args[1:], stdin, stdout, stderr, getenv)
	case "token":
		return runToken(ctx, args[1:], stdout, stderr, getenv)
	case "migrate":
		return runMigrate(ctx, args[1:], stdin, stdout, stderr, getenv)
	case "store":
		return runStore(ctx, args[1:], stdout, stderr)
	case "gc", "verify":
		return runMaintenance(ctx, args[0], args[1:], stdout, stderr, getenv)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "tack", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// runServe runs the service until ctx ends.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	m := NewMain()
	m.Stdout, m.Stderr = stdout, stderr
	if err := m.ParseFlags(args, getenv); err != nil {
		return err
	}
	// Every line goes out in --log-format: tack's packages log to the
	// logger Main hands them, and libraries that log through slog's
	// default log through it too.
	m.Logger = newLogger(m.Config.LogFormat, m.Stderr)
	slog.SetDefault(m.Logger)
	if err := m.Open(ctx); err != nil {
		m.Close()
		return err
	}
	<-ctx.Done()
	return m.Close()
}
