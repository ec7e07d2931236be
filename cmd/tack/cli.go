package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/auth"
	"github.com/tack-ipfs/tack/http"
)

// cli holds what the account and token commands share: the data directory
// of a tack that may be serving right now (SQLite lets both write).
type cli struct {
	data   string
	store  string
	email  string
	stdout io.Writer
	db     tack.Store
}

func (c *cli) flags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.data, "data", DefaultConfig().Data, "data directory of the tack to manage")
	fs.StringVar(&c.store, "store", "", storeHelp)
	fs.StringVar(&c.email, "email", "", "the account's email")
	return fs
}

func (c *cli) open(ctx context.Context) error {
	store, err := parseStore(c.store, c.data)
	if err != nil {
		return err
	}
	if store.sqlite != "" {
		if _, err := os.Stat(store.sqlite); err != nil {
			if c.store != "" {
				return fmt.Errorf("no tack database at %s", store)
			}
			return fmt.Errorf("no tack data in %s: run 'tack serve --data %s' once first", c.data, c.data)
		}
	}
	db, err := openStore(ctx, store, tack.Limits{})
	if err != nil {
		return err
	}
	c.db = db
	return nil
}

func (c *cli) account(ctx context.Context) (*tack.Account, error) {
	if c.email == "" {
		return nil, errors.New("--email is required")
	}
	a, err := c.db.FindAccountByEmail(ctx, c.email)
	if tack.ErrorCode(err) == tack.ENOTFOUND {
		return nil, fmt.Errorf("no account with email %q", c.email)
	}
	return a, err
}

func (c *cli) close() {
	if c.db != nil {
		c.db.Close()
	}
}

// runAccount runs `tack account create|approve|deny|password|block|unblock|limits|purge|list`.
func runAccount(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return errors.New("usage: tack account create|approve|deny|password|block|unblock|limits|purge|list --data DIR [--email E]")
	}
	c := &cli{stdout: stdout}
	fs := c.flags("tack account "+args[0], stderr)
	approve := fs.Bool("approve", false, "give the new account pinning access at once (create)")
	admin := fs.Bool("admin", false, "make the new account an operator (create)")
	message := fs.String("message", "", "a message to the account with the decision, shown on its web pages (approve, deny)")
	yes := fs.Bool("yes", false, "really delete every request of the account (purge)")
	maxPending := fs.String("max-pending", "", "most queued plus pinning requests: a number, 0 for no limit, or default for the server's --max-pending (limits)")
	maxBytes := fs.String("max-bytes", "", "most bytes of pinned DAGs: a size like 500GB, 0 for no limit, or default for the server's --max-bytes (limits)")
	if err := parse(fs, args[1:], getenv, "data", "store"); err != nil {
		return err
	}
	if err := c.open(ctx); err != nil {
		return err
	}
	defer c.close()

	switch args[0] {
	case "create":
		if c.email == "" {
			return errors.New("--email is required")
		}
		a := &tack.Account{Email: c.email, Admin: *admin, Access: tack.AccessNone}
		if *approve {
			a.Access = tack.AccessApproved
		}
		if err := c.db.CreateAccount(ctx, a); err != nil {
			return errors.New(tack.ErrorMessage(err))
		}
		fmt.Fprintf(stdout, "created account %s (pinning access: %s)\n", a.Email, a.Access)
		return nil
	case "approve", "deny":
		a, err := c.account(ctx)
		if err != nil {
			return err
		}
		access := tack.AccessApproved
		if args[0] == "deny" {
			access = tack.AccessDenied
		}
		if err := c.db.SetAccountAccess(ctx, a.ID, access, *message); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "account %s: pinning access %s\n", a.Email, access)
		return nil
	case "password":
		a, err := c.account(ctx)
		if err != nil {
			return err
		}
		password, err := readPassword(stdin)
		if err != nil {
			return err
		}
		hash, err := auth.HashPassword(password)
		if err != nil {
			return err
		}
		if err := c.db.SetAccountPassword(ctx, a.ID, hash); err != nil {
			return err
		}
		// Whoever knew the old password is signed out.
		if err := c.db.DeleteSessions(ctx, a.ID); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "account %s: password set, signed out everywhere\n", a.Email)
		return nil
	case "block", "unblock":
		a, err := c.account(ctx)
		if err != nil {
			return err
		}
		blocked := args[0] == "block"
		if err := c.db.SetAccountBlocked(ctx, a.ID, blocked); err != nil {
			return err
		}
		if blocked {
			if err := c.db.DeleteSessions(ctx, a.ID); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "account %s: blocked, signed out everywhere; its queued requests are held until it is unblocked, its pins stay stored\n", a.Email)
		} else {
			fmt.Fprintf(stdout, "account %s: unblocked\n", a.Email)
		}
		return nil
	case "purge":
		a, err := c.account(ctx)
		if err != nil {
			return err
		}
		if !*yes {
			u, err := c.db.FindUsage(ctx, a.ID)
			if err != nil {
				return err
			}
			return fmt.Errorf("account %s has %d pin requests: add --yes to delete them all", a.Email, u.Requests())
		}
		n, err := c.db.PurgePins(ctx, a.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "account %s: deleted %d pin requests; blocks no other pin needs are left for garbage collection\n", a.Email, n)
		return nil
	case "limits":
		a, err := c.account(ctx)
		if err != nil {
			return err
		}
		if *maxPending != "" || *maxBytes != "" {
			pending, err := parseLimit(*maxPending, a.MaxPending, func(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) })
			if err != nil {
				return fmt.Errorf("--max-pending: %w", err)
			}
			bytes, err := parseLimit(*maxBytes, a.MaxBytes, tack.ParseSize)
			if err != nil {
				return fmt.Errorf("--max-bytes: %w", err)
			}
			if err := c.db.SetAccountLimits(ctx, a.ID, pending, bytes); err != nil {
				return errors.New(tack.ErrorMessage(err))
			}
			a.MaxPending, a.MaxBytes = pending, bytes
		}
		u, err := c.db.FindUsage(ctx, a.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "account %s: %d pending requests (limit: %s), %d bytes stored (limit: %s)\n",
			a.Email, u.Pending(), describeLimit(a.MaxPending, ""),
			u.Bytes, describeLimit(a.MaxBytes, " bytes"))
		return nil
	case "list":
		accts, err := c.db.FindAccounts(ctx)
		if err != nil {
			return err
		}
		usages, err := c.db.FindUsages(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "EMAIL\tACCESS\tADMIN\tBLOCKED\tPINS\tCREATED")
		for _, a := range accts {
			pins := 0
			if u := usages[a.ID]; u != nil {
				pins = u.Requests()
			}
			fmt.Fprintf(w, "%s\t%s\t%v\t%v\t%d\t%s\n", a.Email, a.Access, a.Admin, a.Blocked, pins, a.Created.Format(time.RFC3339))
		}
		return w.Flush()
	}
	return fmt.Errorf("unknown account command %q: use create, approve, deny, password, block, unblock, limits, purge or list", args[0])
}

// parseLimit reads a limit flag: "" keeps old, "default" is nil (the
// server's default), anything else is parsed.
func parseLimit(s string, old *int64, parse func(string) (int64, error)) (*int64, error) {
	switch strings.TrimSpace(s) {
	case "":
		return old, nil
	case "default":
		return nil, nil
	}
	n, err := parse(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return nil, fmt.Errorf("invalid limit %q: give a number, 0 for no limit, or default", s)
	}
	return &n, nil
}

// describeLimit says what an account's own limit is.
func describeLimit(n *int64, unit string) string {
	switch {
	case n == nil:
		return "the server's default"
	case *n == 0:
		return "none"
	}
	return strconv.FormatInt(*n, 10) + unit
}

// readPassword returns the first line of r, without its line ending: the
// new password, which must be as long as the web pages ask.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password from standard input: %w", err)
	}
	password := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if utf8.RuneCountInString(password) < http.MinPasswordLength || len(password) > http.MaxPasswordLength {
		return "", fmt.Errorf("the password (the first line of standard input) must have at least %d characters and at most %d bytes", http.MinPasswordLength, http.MaxPasswordLength)
	}
	return password, nil
}

// runToken runs `tack token create|list|revoke`.
func runToken(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return errors.New("usage: tack token create|list|revoke --data DIR --email E")
	}
	c := &cli{stdout: stdout}
	fs := c.flags("tack token "+args[0], stderr)
	name := fs.String("name", "", "the token's name (create)")
	id := fs.String("id", "", "the token's id (revoke)")
	scopeName := fs.String("scope", string(tack.ScopeFull), "what the token may do (create): full (everything the account may) or read (list and get pins only)")
	if err := parse(fs, args[1:], getenv, "data", "store"); err != nil {
		return err
	}
	scope, err := tack.ParseScope(*scopeName)
	if err != nil {
		return errors.New(tack.ErrorMessage(err))
	}
	if err := c.open(ctx); err != nil {
		return err
	}
	defer c.close()
	a, err := c.account(ctx)
	if err != nil {
		return err
	}

	switch args[0] {
	case "create":
		key, err := auth.SigningKey(ctx, c.db, Config{Data: c.data}.path("jwt.key"))
		if err != nil {
			return err
		}
		token, _, err := auth.New(c.db, key).IssueScoped(ctx, a.ID, *name, scope)
		if tack.ErrorCode(err) == tack.EQUOTA {
			return errors.New(tack.ErrorMessage(err))
		} else if err != nil {
			return err
		}
		fmt.Fprintln(stdout, token)
		return nil
	case "list":
		tokens, err := c.db.FindTokens(ctx, a.ID)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tNAME\tSCOPE\tCREATED\tLAST USED\tREVOKED")
		for _, t := range tokens {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Scope, t.Created.Format(time.RFC3339), when(t.LastUsed), when(t.Revoked))
		}
		return w.Flush()
	case "revoke":
		if *id == "" {
			return errors.New("--id is required (see 'tack token list')")
		}
		if err := c.db.RevokeToken(ctx, a.ID, *id); err != nil {
			return errors.New(tack.ErrorMessage(err))
		}
		fmt.Fprintf(stdout, "revoked token %s\n", *id)
		return nil
	}
	return fmt.Errorf("unknown token command %q: use create, list or revoke", args[0])
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339)
}
