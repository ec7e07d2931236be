package migrate

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ipfs/boxo/pinning/remote/client/openapi"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multiaddr"

	"github.com/tack-ipfs/tack"
)

// migrateItem is one pin to migrate, a line of a file or a pinned request
// of a source service, and what became of it.
type migrateItem struct {
	line    int    // the line of the file, from 1; 0 for a request of a source service
	text    string // the CID as the source wrote it
	cid     cid.Cid
	key     string // tack.ContentKey(cid): CIDv0 and its CIDv1 twin are one pin
	name    string
	meta    map[string]string
	origins []multiaddr.Multiaddr // where the source says the DAG is: its delegates and the pin's origins

	outcome   outcome
	reason    string         // why it was skipped or failed
	requestID string         // the target's request, created or found
	status    openapi.Status // the target request's status, as last seen
}

// outcome is what became of an item.
type outcome int

const (
	notDone     outcome = iota // the run was interrupted or stopped before it
	created                    // the target accepted a new request
	skipped                    // the target already has it, or the source listed it twice
	failed                     // bad input, refused by the target, or failed while Wait followed it
	wouldCreate                // DryRun: it would be created
)

func (o outcome) String() string {
	return [...]string{"not done", "created", "skipped", "failed", "would create"}[o]
}

// where names the item in output: its line, or its CID for a request of a
// source service.
func (it *migrateItem) where() string {
	if it.line > 0 {
		return fmt.Sprintf("line %d", it.line)
	}
	return it.text
}

// maxLineBytes is the longest line of a CID list that is read: a CID and a
// name of at most 255 bytes fit many times over.
const maxLineBytes = 4096

// pinTypes are the words Kubo's `ipfs pin ls` prints after a CID.
var pinTypes = []string{"recursive", "direct", "indirect"}

// readPinList reads a list of CIDs: one a line, optionally followed by
// whitespace and a name. It accepts what `ipfs pin ls` prints with -q
// (`<cid>`), without it (`<cid> recursive`) and with --names (`<cid>
// recursive <name>`): a pin type as the first or the last word after the
// CID is not part of the name. Indirect pins are skipped, since the
// recursive pin above them covers them; direct pins become ordinary pins
// (the API's pins are all recursive). Blank lines and lines starting with
// # are skipped. A bad line becomes a failed item with its line number;
// only an error reading r is returned.
func readPinList(r io.Reader) ([]*migrateItem, error) {
	br := bufio.NewReader(r)
	var items []*migrateItem
	for n := 1; ; n++ {
		line, tooLong, err := readLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reading line %d: %w", n, err)
		}
		if errors.Is(err, io.EOF) && line == "" && !tooLong {
			return items, nil
		}
		if it := parsePinLine(n, line, tooLong); it != nil {
			items = append(items, it)
		}
		if errors.Is(err, io.EOF) {
			return items, nil
		}
	}
}

// readLine returns the next line without its line ending, and whether it
// was longer than maxLineBytes (then only its start is returned).
func readLine(br *bufio.Reader) (line string, tooLong bool, err error) {
	var b []byte
	for {
		chunk, isPrefix, err := br.ReadLine()
		if len(b) <= maxLineBytes {
			b = append(b, chunk...)
		}
		if err != nil {
			return string(b), len(b) > maxLineBytes, err
		}
		if !isPrefix {
			return string(b), len(b) > maxLineBytes, nil
		}
	}
}

// parsePinLine parses line n of a CID list, or returns nil for a blank
// line or a comment.
func parsePinLine(n int, line string, tooLong bool) *migrateItem {
	it := &migrateItem{line: n}
	fail := func(format string, args ...any) *migrateItem {
		it.outcome, it.reason = failed, fmt.Sprintf(format, args...)
		return it
	}
	if tooLong {
		it.text = clipText(line)
		return fail("unreadable line: longer than %d bytes", maxLineBytes)
	}
	if !utf8.ValidString(line) || strings.ContainsRune(line, 0) {
		it.text = clipText(strings.ToValidUTF8(strings.ReplaceAll(line, "\x00", ""), "?"))
		return fail("unreadable line: not text")
	}
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return nil
	}
	text, rest := line, ""
	if i := strings.IndexFunc(line, unicode.IsSpace); i >= 0 {
		text, rest = line[:i], strings.TrimSpace(line[i:])
	}
	it.text = clipText(text)

	words := strings.Fields(rest)
	var pinType string
	switch {
	case len(words) > 0 && slices.Contains(pinTypes, words[0]):
		// `ipfs pin ls --names`: <cid> <type> <name>; `ipfs pin ls <cid>`
		// may say "indirect through <cid>".
		pinType = words[0]
		rest = strings.TrimSpace(strings.TrimPrefix(rest, pinType))
		if pinType == "indirect" && strings.HasPrefix(rest, "through ") {
			rest = ""
		}
	case len(words) > 1 && slices.Contains(pinTypes, words[len(words)-1]):
		pinType = words[len(words)-1]
		rest = strings.TrimSpace(strings.TrimSuffix(rest, pinType))
	}
	it.name = rest

	s := strings.TrimPrefix(text, "/ipfs/")
	if strings.HasPrefix(s, "/ipns/") || strings.HasPrefix(s, "ipns://") {
		return fail("an IPNS name, not a CID: resolve it with 'ipfs name resolve' and list the CID it points to")
	}
	c, err := cid.Decode(s)
	if err != nil {
		return fail("invalid CID")
	}
	it.cid, it.key = c, tack.ContentKey(c)
	if len(it.name) > tack.MaxNameBytes {
		return fail("the name is %d bytes long, over the API's limit of %d", len(it.name), tack.MaxNameBytes)
	}
	if pinType == "indirect" {
		it.outcome, it.reason = skipped, "an indirect pin: the recursive pin above it covers it"
	}
	return it
}

// clipText shortens what a bad line said, for output.
func clipText(s string) string {
	if len(s) <= 80 {
		return s
	}
	for i := 80; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "…"
		}
	}
	return "…"
}

// listPinned lists every pinned request of a source service, a page of
// pageLimit at a time through `before`, as Kubo pages, and sends each page
// to pages, oldest first within it, as soon as it is read: the next page
// is asked for only once pages has room. A page the source answers with
// over maxAnswerBytes is asked for again, half as long. A source whose
// pages do not get older (a cursor that does not move back, or comes
// again) is refused.
func listPinned(ctx context.Context, src *service, pageLimit int, pages chan<- []*migrateItem) error {
	var before time.Time
	limit := pageLimit
	for {
		var page []openapi.PinStatus
		var count int
		err := src.call(ctx, func(ctx context.Context) (err error) {
			page, count, err = listPins(ctx, src.api, nil, []openapi.Status{openapi.PINNED}, before, limit)
			return err
		})
		if errors.Is(err, errAnswerTooLarge) && limit > 1 {
			limit /= 2
			continue
		}
		if err != nil {
			return err
		}
		if len(page) > 0 {
			select {
			case pages <- sourceItems(page):
			case <-ctx.Done():
				return errInterrupted
			}
		}
		// A page that holds all the remaining matches is the last one.
		if len(page) == 0 || len(page) >= count {
			return nil
		}
		oldest := page[len(page)-1].GetCreated()
		if !before.IsZero() && !oldest.Before(before) {
			return fmt.Errorf("the source's pages do not get older (created %s after before=%s): it does not page as the API says", oldest.Format(time.RFC3339Nano), before.Format(time.RFC3339Nano))
		}
		before = oldest
	}
}

// sourceItems returns the items of a page of the source's requests,
// oldest first, as they were made.
func sourceItems(page []openapi.PinStatus) []*migrateItem {
	items := make([]*migrateItem, 0, len(page))
	for i := len(page) - 1; i >= 0; i-- {
		ps := page[i]
		it := &migrateItem{name: ps.Pin.GetName(), meta: ps.Pin.GetMeta()}
		c, err := cid.Decode(ps.Pin.GetCid())
		switch {
		case err != nil:
			it.text = clipText("request " + ps.GetRequestid())
			it.outcome, it.reason = failed, "the source lists an invalid CID"
		case len(it.name) > tack.MaxNameBytes:
			it.text, it.name = c.String(), ""
			it.outcome, it.reason = failed, fmt.Sprintf("the source's name of it is over the API's limit of %d bytes", tack.MaxNameBytes)
		default:
			it.cid, it.text, it.key = c, c.String(), tack.ContentKey(c)
			// The source holds the DAG: its delegates are the best origins.
			for _, o := range append(ps.GetDelegates(), ps.Pin.GetOrigins()...) {
				if ma, err := multiaddr.NewMultiaddr(o); err == nil && len(it.origins) < tack.MaxOrigins {
					it.origins = append(it.origins, ma)
				}
			}
		}
		items = append(items, it)
	}
	return items
}
