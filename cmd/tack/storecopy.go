package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"reflect"
	"slices"
	"time"

	"github.com/tack-ipfs/tack"
)

// copyBatch is how many rows one COPY into the target takes.
const copyBatch = 10_000

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
	return copyStore(ctx, exp, imp, *sample, stdout)
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

// copyStore copies every row of src into dst, which must be empty, in
// one transaction, and then checks the copy.
func copyStore(ctx context.Context, src tack.Exporter, dst tack.Importer, sample int, out io.Writer) error {
	for _, t := range tack.CopyTables {
		if t.Name == "queue_state" {
			continue
		}
		n, err := dst.CountRows(ctx, t)
		if err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("the target store is not empty (%s has %d rows): tack copies only into an empty store", t.Name, n)
		}
	}
	start := time.Now()
	err := dst.Import(ctx, func(put func(tack.CopyTable, [][]any) error) error {
		for _, t := range tack.CopyTables {
			var batch [][]any
			n := 0
			err := src.ExportRows(ctx, t, func(row []any) error {
				batch = append(batch, slices.Clone(row))
				if len(batch) < copyBatch {
					return nil
				}
				n += len(batch)
				err := put(t, batch)
				batch = batch[:0]
				return err
			})
			if err == nil && len(batch) > 0 {
				n += len(batch)
				err = put(t, batch)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "copied %s: %d rows\n", t.Name, n)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("copy (nothing was committed): %w", err)
	}
	fmt.Fprintf(out, "copied in %v; checking\n", time.Since(start).Round(time.Millisecond))
	if err := verifyCopy(ctx, src, dst, sample, out); err != nil {
		return &exitError{1, err}
	}
	return nil
}

// verifyCopy compares the two stores: the rows of each table counted,
// sample rows of each compared field by field, and the usage of every
// account, which the target computed from the rows it was given.
func verifyCopy(ctx context.Context, src, dst tack.Exporter, sample int, out io.Writer) error {
	var problems []string
	for _, t := range tack.CopyTables {
		ns, err := src.CountRows(ctx, t)
		if err != nil {
			return err
		}
		nd, err := dst.CountRows(ctx, t)
		if err != nil {
			return err
		}
		if ns != nd {
			problems = append(problems, fmt.Sprintf("%s: %d rows in the source, %d in the target", t.Name, ns, nd))
			continue
		}
		rows, err := src.SampleRows(ctx, t, sample)
		if err != nil {
			return err
		}
		ids := make([]any, len(rows))
		for i, r := range rows {
			ids[i] = r[0]
		}
		found, err := dst.FindRows(ctx, t, ids)
		if err != nil {
			return err
		}
		byID := map[any][]any{}
		for _, r := range found {
			byID[rowID(r[0])] = r
		}
		bad := 0
		for _, r := range rows {
			got, ok := byID[rowID(r[0])]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s %v: missing in the target", t.Name, r[0]))
				bad++
				continue
			}
			for j, c := range t.Columns {
				if !sameValue(c.Kind, r[j], got[j]) {
					problems = append(problems, fmt.Sprintf("%s %v: %s is %v in the source, %v in the target", t.Name, r[0], c.Name, show(r[j]), show(got[j])))
					bad++
				}
			}
		}
		fmt.Fprintf(out, "checked %s: %d rows in both; %d sampled rows compared field by field, %d differences\n", t.Name, ns, len(rows), bad)
	}
	if s, ok := src.(tack.AccountStore); ok {
		if d, ok := dst.(tack.AccountStore); ok {
			us, err := s.FindUsages(ctx)
			if err != nil {
				return err
			}
			ud, err := d.FindUsages(ctx)
			if err != nil {
				return err
			}
			same := len(us) == len(ud)
			for _, id := range slices.Sorted(maps.Keys(us)) {
				if u := ud[id]; u == nil || !reflect.DeepEqual(*u, *us[id]) {
					problems = append(problems, fmt.Sprintf("account %d: usage %+v in the source, %+v in the target", id, us[id], u))
					same = false
				}
			}
			fmt.Fprintf(out, "checked usage (requests per status, stored bytes) of %d accounts: same %v\n", len(us), same)
		}
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(out, "DIFFERENT:", p)
		}
		return fmt.Errorf("the copy differs from the source in %d places", len(problems))
	}
	fmt.Fprintln(out, "the copy matches the source")
	return nil
}

// rowID is a row's first column as a map key: bytes (a multihash) as a
// string.
func rowID(v any) any {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return v
}

// sameValue compares two values of a column of kind k: JSON by what it
// encodes, the rest as they are.
func sameValue(k tack.CopyKind, a, b any) bool {
	switch k {
	case tack.CopyJSON:
		var va, vb any
		ea := json.Unmarshal([]byte(a.(string)), &va)
		eb := json.Unmarshal([]byte(b.(string)), &vb)
		return ea == nil && eb == nil && reflect.DeepEqual(va, vb)
	case tack.CopyBytes:
		return bytes.Equal(a.([]byte), b.([]byte))
	case tack.CopyNullInt:
		pa, pb := a.(*int64), b.(*int64)
		return (pa == nil) == (pb == nil) && (pa == nil || *pa == *pb)
	}
	return a == b
}

// show prints a value, NULL for a nil *int64.
func show(v any) string {
	if p, ok := v.(*int64); ok {
		if p == nil {
			return "NULL"
		}
		return fmt.Sprint(*p)
	}
	return fmt.Sprintf("%q", fmt.Sprint(v))
}
