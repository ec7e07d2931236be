package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/tack-ipfs/tack"
)

// TestTokenCreateScope: `tack token create --scope read` makes a read-only
// token, without --scope a full one, and an unknown scope is refused
// plainly, making none; `tack token list` shows each token's scope.
func TestTokenCreateScope(t *testing.T) {
	t.Parallel()
	dir, db := MustData(t)
	MustRun(t, "account", "create", "--data", dir, "--email", "alice@example.com")
	a := MustFindAccount(t, db, "alice@example.com")
	MustRun(t, "token", "create", "--data", dir, "--email", "alice@example.com", "--name", "ci", "--scope", "read")
	MustRun(t, "token", "create", "--data", dir, "--email", "alice@example.com", "--name", "laptop")
	MustRun(t, "token", "create", "--data", dir, "--email", "alice@example.com", "--name", "deploy", "--scope", "full")
	err := runFails(t, "", "token", "create", "--data", dir, "--email", "alice@example.com", "--name", "root", "--scope", "admin")
	if want := `unknown token scope "admin": use read or full`; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	tokens, err := db.FindTokens(t.Context(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]tack.Scope{"ci": tack.ScopeRead, "laptop": tack.ScopeFull, "deploy": tack.ScopeFull}
	if len(tokens) != len(want) {
		t.Fatalf("%d tokens, want %d", len(tokens), len(want))
	}
	for _, tok := range tokens {
		if tok.Scope != want[tok.Name] {
			t.Errorf("token %q has scope %q, want %q", tok.Name, tok.Scope, want[tok.Name])
		}
	}
	list := MustRun(t, "token", "list", "--data", dir, "--email", "alice@example.com")
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if f := strings.Fields(lines[0]); len(f) < 3 || f[2] != "SCOPE" {
		t.Fatalf("token list header %q lacks SCOPE", lines[0])
	}
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) < 3 || tack.Scope(f[2]) != want[f[1]] {
			t.Errorf("token list line %q: want scope %q", line, want[f[1]])
		}
	}
}

// TestReadOnlyTokenWithKubo: a real `tack serve` process, and a Kubo user
// with two services on it: one with a full token, which pins, and one
// with a read-only token (made by `tack token create --scope read` while
// tack serves), with which `ipfs pin remote ls` lists the pin and
// `ipfs pin remote add` and `rm` are refused with the API's reason.
func TestReadOnlyTokenWithKubo(t *testing.T) {
	// Not parallel: it runs a Kubo daemon and a tack process.
	bin := kuboBin(t)
	tackBin := buildBinary(t)
	dir, addr := tempData(t), freeAddr(t)
	startProcess(t, tackBin, dir, addr)
	readToken(t, dir) // written once tack serves
	tackCLI := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(tackBin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("tack %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	tackCLI("account", "create", "--data", dir, "--email", "kubo@example.com", "--approve")
	full := tackCLI("token", "create", "--data", dir, "--email", "kubo@example.com", "--name", "node")
	read := tackCLI("token", "create", "--data", dir, "--email", "kubo@example.com", "--name", "monitor", "--scope", "read")

	k := startKubo(t, bin)
	service := "http://" + addr + "/"
	k.Run(t, "pin", "remote", "service", "add", "tack", service, full)
	k.Run(t, "pin", "remote", "service", "add", "tack-ro", service, read)

	file := k.Add(t, 200<<10)
	k.Run(t, "pin", "remote", "add", "--service=tack", "--name=report", file)
	ls := k.Run(t, "pin", "remote", "ls", "--service=tack-ro", "--status=pinned")
	if want := file + "\tpinned\treport"; !strings.Contains(ls, want) {
		t.Errorf("ipfs pin remote ls with the read-only token lacks %q:\n%s", want, ls)
	}

	other := k.Add(t, 10<<10)
	out, err := k.run("pin", "remote", "add", "--service=tack-ro", "--background", "--name=refused", other)
	if err == nil || !strings.Contains(out, "PINNING_NOT_AUTHORIZED") || !strings.Contains(out, "read-only") {
		t.Errorf("ipfs pin remote add with the read-only token: %v\n%s", err, out)
	}
	out, err = k.run("pin", "remote", "rm", "--service=tack-ro", "--cid="+file)
	if err == nil || !strings.Contains(out, "read-only") {
		t.Errorf("ipfs pin remote rm with the read-only token: %v\n%s", err, out)
	}
	// Nothing changed: the one pin, still pinned, and no other.
	ls = k.Run(t, "pin", "remote", "ls", "--service=tack", "--status=queued,pinning,pinned,failed")
	if lines := strings.Split(strings.TrimSpace(ls), "\n"); len(lines) != 1 || !strings.Contains(ls, file+"\tpinned\treport") {
		t.Errorf("after the refused writes, ipfs pin remote ls:\n%s", ls)
	}
}
