package main

import (
	"flag"
	"os"
	"strings"
	"testing"
)

// Every flag of tack serve has a row in docs/operating.md's table, which
// says it lists every flag: a flag added without one fails here.
func TestOperatingDocListsEveryFlag(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/operating.md")
	if err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	c := DefaultConfig()
	serveFlags(fs, &c)
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.Contains(string(doc), "| `--"+f.Name+"`") && !strings.Contains(string(doc), "| `--"+f.Name+" ") {
			t.Errorf("docs/operating.md has no row for --%s", f.Name)
		}
	})
}
