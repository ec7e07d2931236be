package main

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"
)

// dispatched returns every command line the dispatcher knows, as read
// from its source: the words that run, runAccount, runToken and runStore
// compare args[0] with, after the command they belong to ("tack account
// purge"). The ways to ask for the version or the help are left out.
func dispatched(t *testing.T) []string {
	t.Helper()
	prefix := map[string]string{"run": "tack ", "runAccount": "tack account ", "runToken": "tack token ", "runStore": "tack store "}
	fset := token.NewFileSet()
	var out []string
	for _, file := range []string{"main.go", "cli.go", "storecopy.go"} {
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || prefix[fn.Name.Name] == "" {
				continue
			}
			add := func(lit ast.Expr) {
				b, ok := lit.(*ast.BasicLit)
				if !ok || b.Kind != token.STRING {
					return
				}
				word, err := strconv.Unquote(b.Value)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(word, "-") && word != "help" {
					out = append(out, prefix[fn.Name.Name]+word)
				}
			}
			isArg0 := func(e ast.Expr) bool {
				ix, ok := e.(*ast.IndexExpr)
				if !ok {
					return false
				}
				id, ok1 := ix.X.(*ast.Ident)
				n, ok2 := ix.Index.(*ast.BasicLit)
				return ok1 && ok2 && id.Name == "args" && n.Value == "0"
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.SwitchStmt:
					if n.Tag != nil && isArg0(n.Tag) {
						for _, s := range n.Body.List {
							for _, e := range s.(*ast.CaseClause).List {
								add(e)
							}
						}
					}
				case *ast.BinaryExpr:
					if isArg0(n.X) {
						add(n.Y)
					}
				}
				return true
			})
		}
	}
	return out
}

// `tack --help` lists every command the dispatcher knows.
func TestHelpListsEveryCommand(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"--help"}, nil, &stdout, &stderr, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	cmds := dispatched(t)
	// The dispatcher as it is today: a test that found fewer would prove
	// nothing.
	for _, want := range []string{"tack serve", "tack account purge", "tack account limits", "tack token revoke", "tack store copy", "tack gc", "tack version"} {
		if !strings.Contains(strings.Join(cmds, "\n")+"\n", want+"\n") {
			t.Fatalf("the dispatcher's source does not show %q; found %q", want, cmds)
		}
	}
	for _, c := range cmds {
		if !strings.Contains(stdout.String(), "\n  "+c+" ") && !strings.Contains(stdout.String(), "\n  "+c+"\n") {
			t.Errorf("tack --help does not list %q", c)
		}
	}
}
