package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pinclient "github.com/ipfs/boxo/pinning/remote/client"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multicodec"
	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/internal/testpeer"
	"github.com/tack-ipfs/tack/migrate"
)

// migrateRun runs `tack migrate` in-process with args and stdin, after
// setup (if not nil) adjusts the parsed command, and returns what it
// printed and its exit status.
func migrateRun(tb testing.TB, stdin string, setup func(*migrate.Config), args ...string) (string, int) {
	tb.Helper()
	var out bytes.Buffer
	mg, err := parseMigrate(args, strings.NewReader(stdin), &out, &out, func(string) string { return "" })
	if err == nil {
		if setup != nil {
			setup(&mg)
		}
		if err = migrate.Run(context.Background(), mg); err != nil {
			err = &exitError{1, err}
		}
	}
	tb.Logf("tack migrate %s:\n%s", strings.Join(args, " "), out.String())
	if err != nil {
		tb.Logf("error: %v", err)
	}
	return out.String(), exitStatus(err)
}

// exitStatus is the status tack exits with after err.
func exitStatus(err error) int {
	var exit *exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.code
	}
	return 2
}

// MustPins returns every request of the admin account of m, newest first.
func MustPins(tb testing.TB, m *Main) []*tack.PinRequest {
	tb.Helper()
	ctx := context.Background()
	a, err := m.DB.FindAccountByEmail(ctx, "admin")
	if err != nil {
		tb.Fatal(err)
	}
	pins, n, err := m.DB.FindPins(ctx, tack.PinFilter{AccountID: a.ID, Limit: tack.MaxListLimit})
	if err != nil {
		tb.Fatal(err)
	}
	if n > len(pins) {
		tb.Fatalf("%d requests, more than a page", n)
	}
	return pins
}

// checkOnce fails the test unless the target has exactly one request for
// each of want's content keys, and none for any other.
func checkOnce(tb testing.TB, pins []*tack.PinRequest, want map[string]bool) map[string]*tack.PinRequest {
	tb.Helper()
	byKey := map[string]*tack.PinRequest{}
	for _, p := range pins {
		if byKey[p.Key] != nil {
			tb.Errorf("the target has %s twice", p.Pin.CID)
		}
		if !want[p.Key] {
			tb.Errorf("the target has %s, which was not migrated", p.Pin.CID)
		}
		byKey[p.Key] = p
	}
	for k := range want {
		if byKey[k] == nil {
			tb.Errorf("the target lacks %s", k)
		}
	}
	return byKey
}

// A migration from one tack to another brings every pinned request, with
// its name and meta, and only those; the target fetches the DAGs from the
// source itself (the source's delegates are the origins), and --wait
// follows them to pinned. Run again, it skips everything.
func TestMigrateFromService(t *testing.T) {
	t.Parallel()
	src, dst := MustOpenMain(t, tempData(t)), MustOpenMain(t, tempData(t))
	peer := testpeer.New(t)
	srcClient := src.Client(src.AdminToken)
	ctx := context.Background()

	var roots []cid.Cid
	for i := range 6 {
		roots = append(roots, peer.AddFile(t, 200<<10+i, 16<<10, i%2), peer.AddDAGCBOR(t, 20))
	}
	var ids []string
	for i, r := range roots {
		var opts []pinclient.AddOption
		if i > 0 { // the first has neither name nor meta
			opts = append(opts, pinclient.PinOpts.WithName(fmt.Sprintf("pin %d", i)),
				pinclient.PinOpts.AddMeta(map[string]string{"index": fmt.Sprint(i), "app": "photos"}))
		}
		ps, err := srcClient.Add(ctx, r, append(opts, pinclient.PinOpts.WithOrigins(Origins(t, peer)...))...)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ps.GetRequestId())
	}
	// A second request for a CID is migrated once, with the newer name and
	// meta: the source lists it first.
	again, err := srcClient.Add(ctx, roots[3], pinclient.PinOpts.WithName("again"))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range append(ids, again.GetRequestId()) {
		WaitStatus(t, srcClient, id, pinclient.StatusPinned, time.Minute)
	}
	// A request that never gets pinned is not migrated.
	if _, err := srcClient.Add(ctx, testpeer.RandomRawCID(t)); err != nil {
		t.Fatal(err)
	}
	peer.Close() // only the source holds the DAGs now

	args := []string{"--from", "http://" + src.HTTPAddr() + "/", "--from-token", src.AdminToken,
		"--to", "http://" + dst.HTTPAddr(), "--token", dst.AdminToken, "--wait"}
	smallPages := func(mg *migrate.Config) { mg.PageLimit = 5 } // 14 requests: three pages
	out, status := migrateRun(t, "", smallPages, args...)
	if status != 0 {
		t.Fatalf("exit status %d, want 0", status)
	}
	if !strings.Contains(out, "12 created, 1 skipped, 0 failed") {
		t.Errorf("summary does not say 12 created, 1 skipped (the second request for one CID)")
	}
	want := map[string]bool{}
	for _, r := range roots {
		want[tack.ContentKey(r)] = true
	}
	got := checkOnce(t, MustPins(t, dst), want)
	for i, r := range roots {
		p := got[tack.ContentKey(r)]
		if p == nil {
			continue
		}
		wantName, wantMeta := fmt.Sprintf("pin %d", i), map[string]string{"index": fmt.Sprint(i), "app": "photos"}
		switch i {
		case 0:
			wantName, wantMeta = "", nil
		case 3:
			wantName, wantMeta = "again", nil
		}
		if p.Pin.Name != wantName || !maps.Equal(p.Pin.Meta, wantMeta) {
			t.Errorf("%s on the target: name %q, meta %v; want %q, %v", r, p.Pin.Name, p.Pin.Meta, wantName, wantMeta)
		}
		if p.Status != tack.StatusPinned {
			t.Errorf("%s on the target is %s after --wait, want pinned", r, p.Status)
		}
		dst.MustHaveDAG(t, peer, r)
	}

	out, status = migrateRun(t, "", smallPages, args...)
	if status != 0 || !strings.Contains(out, "0 created, 13 skipped, 0 failed") {
		t.Errorf("second run: exit status %d, want 0 and everything skipped", status)
	}
	checkOnce(t, MustPins(t, dst), want)
}

// A migration from a list as `ipfs pin ls` prints it pins the good lines,
// reports each bad one with its line number, and exits 1; a dry run
// before it creates nothing, and a run after it skips what is there.
func TestMigrateFromFile(t *testing.T) {
	t.Parallel()
	dst := MustOpenMain(t, tempData(t))
	peer := testpeer.New(t)
	r0, r1, r2 := peer.AddFile(t, 300<<10, 32<<10, 1), peer.AddDAGCBOR(t, 30), peer.AddDAGJSON(t, 30)
	r3 := peer.AddFile(t, 100<<10, 16<<10, 0) // Qm…
	gitRaw := peer.Put(t, multicodec.GitRaw, []byte("blob 5\x00hello")).Cid()
	ipns := "k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8"
	list := strings.Join([]string{
		"# ipfs pin ls --type=recursive, and some more", // 1
		"",                         // 2
		r0.String(),                // 3: ipfs pin ls -q
		r1.String() + " recursive", // 4: ipfs pin ls
		"  " + r2.String() + "\tholiday photos  ", // 5: a name
		r3.String() + " recursive my album",       // 6: ipfs pin ls --names
		"not-a-cid",                               // 7
		ipns,                                      // 8: refused by tack
		gitRaw.String() + " git object",           // 9: refused by tack
		"\xff\xfe binary",                         // 10
		cid.NewCidV1(cid.DagProtobuf, r3.Hash()).String(), // 11: r3's CIDv1 twin
		testpeer.RandomRawCID(t).String() + " indirect",   // 12
		"   ", // 13
	}, "\n") + "\n"
	file := filepath.Join(t.TempDir(), "pins.txt")
	if err := os.WriteFile(file, []byte(list), 0o600); err != nil {
		t.Fatal(err)
	}
	other := testpeer.New(t) // an origin without the content
	to := []string{"--to", "http://" + dst.HTTPAddr(), "--token", dst.AdminToken}

	out, status := migrateRun(t, "", nil, append([]string{"--from-file", file, "--dry-run"}, to...)...)
	if status != 1 {
		t.Errorf("dry run: exit status %d, want 1 (some lines are bad)", status)
	}
	if n := len(MustPins(t, dst)); n != 0 {
		t.Fatalf("the dry run created %d requests", n)
	}
	if !strings.Contains(out, "4 to create") || !strings.Contains(out, "line 9: failed") {
		t.Errorf("dry run did not say it would create 4 and that line 9 is refused")
	}

	args := append([]string{"--from-file", file, "--wait", "--origin", Origins(t, peer)[0].String() + "," + Origins(t, other)[0].String(),
		"--origin", Origins(t, other)[0].String()}, to...)
	out, status = migrateRun(t, "", nil, args...)
	if status != 1 {
		t.Errorf("exit status %d, want 1 (some lines failed)", status)
	}
	for _, want := range []string{
		"line 7: failed not-a-cid: invalid CID",
		"line 8: failed " + ipns + ": BAD_REQUEST: ",
		"line 9: failed " + gitRaw.String() + ` "git object": BAD_REQUEST: IPLD codec not supported: git-raw`,
		"line 10: failed",
		"line 11: skipped",
		"line 12: skipped",
		"line 3: pinned " + r0.String(),
		"4 created, 2 skipped, 4 failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	got := checkOnce(t, MustPins(t, dst), map[string]bool{tack.ContentKey(r0): true, tack.ContentKey(r1): true, tack.ContentKey(r2): true, tack.ContentKey(r3): true})
	for r, name := range map[cid.Cid]string{r0: "", r1: "", r2: "holiday photos", r3: "my album"} {
		if p := got[tack.ContentKey(r)]; p != nil && (p.Pin.Name != name || p.Status != tack.StatusPinned) {
			t.Errorf("%s on the target: name %q, %s; want %q, pinned", r, p.Pin.Name, p.Status, name)
		}
		dst.MustHaveDAG(t, peer, r)
	}

	// Again, from standard input: the good lines are skipped, the bad
	// ones fail again.
	out, status = migrateRun(t, list, nil, append([]string{"--from-file", "-"}, to...)...)
	if status != 1 || !strings.Contains(out, "0 created, 6 skipped, 4 failed") {
		t.Errorf("second run: exit status %d, want 1 with the good lines skipped", status)
	}
	if n := len(MustPins(t, dst)); n != 4 {
		t.Errorf("the target has %d requests after the second run, want 4", n)
	}

	// A token the target refuses stops the run at once.
	out, status = migrateRun(t, list, nil, "--from-file", "-", "--to", "http://"+dst.HTTPAddr(), "--token", "wrong")
	if status != 1 || !strings.Contains(out, "0 created, 2 skipped, 2 failed, 6 not done") {
		t.Errorf("wrong token: exit status %d, want 1 with nothing done", status)
	}
}

// Usage errors exit 2 and do nothing.
func TestMigrateUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--to", "http://127.0.0.1:1", "--token", "t"},
		{"--from-file", "-", "--to", "http://127.0.0.1:1"},
		{"--from-file", "-", "--from", "http://127.0.0.1:1", "--from-token", "t", "--to", "http://127.0.0.1:1", "--token", "t"},
		{"--from", "http://127.0.0.1:1", "--to", "http://127.0.0.1:1", "--token", "t"},
		{"--from-file", "-", "--to", "127.0.0.1:1", "--token", "t"},
		{"--from-file", "-", "--to", "http://127.0.0.1:1", "--token", "t", "--origin", "not a multiaddr"},
		{"--from-file", "-", "--to", "http://127.0.0.1:1", "--token", "t", "--concurrency", "0"},
		{"--from-file", "-", "--to", "http://127.0.0.1:1", "--token", "t", "--wait", "--dry-run"},
	} {
		if _, status := migrateRun(t, "", nil, args...); status != 2 {
			t.Errorf("tack migrate %s: exit status %d, want 2", strings.Join(args, " "), status)
		}
	}
	// The token may come from the environment instead.
	var out bytes.Buffer
	env := map[string]string{"TACK_TOKEN": "t", "TACK_ORIGIN": "/ip4/127.0.0.1/tcp/4001,/ip4/127.0.0.2/tcp/4001"}
	mg, err := parseMigrate([]string{"--from-file", "-", "--to", "http://127.0.0.1:1"}, nil, &out, &out, func(k string) string { return env[k] })
	if err != nil || mg.Token != "t" || len(mg.Origins) != 2 {
		t.Errorf("with TACK_TOKEN and TACK_ORIGIN: %v, token %q, origins %v", err, mg.Token, mg.Origins)
	}
}

// A migrate process stopped in the middle of a long list loses nothing.
// Interrupted (Ctrl-C), it lets the requests in flight finish, reports
// each one the target accepted, prints its summary and exits 1. Killed
// with SIGKILL, it may not report the last ones, but the next run finds
// them: every CID ends up on the target exactly once.
func TestMigrateInterruptedOrKilled(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	dst := MustOpenMain(t, tempData(t))
	want := map[string]bool{}
	var list strings.Builder
	for range 300 {
		c := testpeer.RandomRawCID(t)
		want[tack.ContentKey(c)] = true
		fmt.Fprintln(&list, c)
	}
	file := filepath.Join(t.TempDir(), "pins.txt")
	if err := os.WriteFile(file, []byte(list.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	// stopAfter runs migrate, sends it sig once it has printed 50
	// created lines, and returns the CIDs of every created line, what it
	// printed and how it ended.
	stopAfter := func(sig os.Signal) (created []string, stdout, stderr string, err error) {
		cmd := exec.Command(bin, "migrate", "--from-file", file, "--to", "http://"+dst.HTTPAddr())
		cmd.Env = append(os.Environ(), "TACK_TOKEN="+dst.AdminToken)
		var errBuf bytes.Buffer
		cmd.Stderr = &errBuf
		pipe, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill() })
		var out strings.Builder
		lines := bufio.NewScanner(pipe)
		for lines.Scan() {
			fmt.Fprintln(&out, lines.Text())
			if f := strings.Fields(lines.Text()); len(f) >= 4 && f[2] == "created" {
				if created = append(created, f[3]); len(created) == 50 {
					cmd.Process.Signal(sig)
				}
			}
		}
		err = cmd.Wait()
		t.Logf("after %v:\n%s%s", sig, out.String(), errBuf.String())
		return created, out.String(), errBuf.String(), err
	}

	created, stdout, stderr, err := stopAfter(os.Interrupt)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("after Ctrl-C: %v, want exit status 1", err)
	}
	if !strings.Contains(stdout, "not done") || !strings.Contains(stderr, "interrupted") {
		t.Errorf("after Ctrl-C it did not print a summary with what is not done, and say it was interrupted")
	}
	pins := MustPins(t, dst)
	if len(pins) != len(created) {
		t.Errorf("after Ctrl-C the target has %d requests, but migrate reported %d created", len(pins), len(created))
	}
	accepted := created

	created, _, _, _ = stopAfter(os.Kill)
	if len(created) < 50 {
		t.Fatalf("the killed run printed %d created lines before it ended, want 50", len(created))
	}
	accepted = append(accepted, created...)

	cmd := exec.Command(bin, "migrate", "--from-file", file, "--to", "http://"+dst.HTTPAddr())
	cmd.Env = append(os.Environ(), "TACK_TOKEN="+dst.AdminToken)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("the last run: %v\n%s", err, out.String())
	}
	// What the killed run had sent may have been accepted or not: the
	// last run skips the one and creates the other.
	var n, skipped, failed int
	for _, line := range strings.Split(out.String(), "\n") {
		if _, err := fmt.Sscanf(line, "%d created, %d skipped, %d failed", &n, &skipped, &failed); err == nil {
			break
		}
	}
	if n+skipped != 300 || failed != 0 || skipped < len(accepted) {
		t.Errorf("the last run: %d created, %d skipped, %d failed; want 300 in all, and at least the %d created before skipped", n, skipped, failed, len(accepted))
	}
	got := checkOnce(t, MustPins(t, dst), want)
	for _, s := range accepted {
		c, err := cid.Decode(s)
		if err != nil || got[tack.ContentKey(c)] == nil {
			t.Errorf("%s, created before a stop, is not on the target (%v)", s, err)
		}
	}
}
