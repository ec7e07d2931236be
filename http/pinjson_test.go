package http_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tack-ipfs/tack"
	tackhttp "github.com/tack-ipfs/tack/http"
)

// pinPageOf builds a page of requests whose every string field comes
// from parts, cycled, in every status and with nil and empty origins and
// meta in turn, and the delegates, so that one input reaches every branch
// of the encoder.
func pinPageOf(count int, parts []string) ([]*tack.PinRequest, []string) {
	at := 0
	next := func() string {
		if len(parts) == 0 {
			return ""
		}
		s := parts[at%len(parts)]
		at++
		return s
	}
	reqs := []*tack.PinRequest{}
	kind := (count%3 + 3) % 3
	if kind == 0 {
		return reqs, nil // no results, nil delegates
	}
	statuses := []tack.Status{tack.StatusPinned, tack.StatusQueued, tack.StatusPinning, tack.StatusFailed, tack.Status(next())}
	for i := range 10 {
		r := &tack.PinRequest{
			ID: next(), Status: statuses[i%len(statuses)],
			Created: time.UnixMicro(int64(count)*1_700_000_000_123_456 + int64(i)*1_000_001).UTC(),
			Pin:     tack.Pin{CID: next(), Name: next()},
			Details: next(), Blocks: int64(count * i), Bytes: int64(-count * i * 1000),
			Attempts: i, Position: int64(i % 4), PositionOver: i == 7, OwnAhead: int64(i), Waiting: next(),
		}
		switch i % 3 {
		case 1:
			r.Pin.Origins, r.Pin.Meta = []string{}, map[string]string{}
		case 2:
			r.Pin.Origins = []string{next(), next(), next()}
			r.Pin.Meta = map[string]string{next(): next(), next(): next(), "app": next()}
		}
		switch i {
		case 6:
			r.Held = true
		case 1:
			r.RetryAt = r.Created.Add(time.Minute)
		}
		reqs = append(reqs, r)
	}
	return reqs, []string{next(), next()}[:kind]
}

func checkPinResultsJSON(t *testing.T, count int, reqs []*tack.PinRequest, delegates []string) {
	t.Helper()
	res := tackhttp.PinResults{Count: count, Results: []tackhttp.PinStatus{}}
	for _, r := range reqs {
		res.Results = append(res.Results, tackhttp.PinStatusOf(r, delegates))
	}
	want, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	got := tackhttp.AppendPinPageJSON([]byte("prefix"), count, reqs, delegates)
	if !bytes.HasPrefix(got, []byte("prefix")) || !bytes.Equal(got[len("prefix"):], want) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestPinResultsJSON(t *testing.T) {
	for _, parts := range [][]string{
		nil,
		{""},
		{"plain", "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", "2026-11-23T10:00:00.000000Z"},
		{`quote " and backslash \ and slash /`, "<script>&amp;</script>", "tab\tnew\nline\rcr\bbs\fff"},
		{"\x00\x01\x1f\x7f", "é ü 日本 🎉", "\u2028\u2029", "bad \xff\xfe utf-8 \xe2\x82", "\xed\xa0\x80 surrogate"},
		{"z", "a", "m", "a"}, // keys repeat and sort
	} {
		for count := range 3 {
			reqs, delegates := pinPageOf(count, parts)
			checkPinResultsJSON(t, count, reqs, delegates)
		}
	}
}

// FuzzPinResultsJSON: the listing's hand-written encoder writes exactly
// the bytes json.Marshal writes, whatever the strings hold.
//
//	go test ./http -run '^$' -fuzz FuzzPinResultsJSON -fuzztime 60s
func FuzzPinResultsJSON(f *testing.F) {
	f.Add(1, "a;b;c")
	f.Add(2, "<>&;\u2028;\xff;\"\\;\t\n;\x00")
	f.Add(4, strings.Repeat("x;", 20))
	f.Fuzz(func(t *testing.T, count int, joined string) {
		reqs, delegates := pinPageOf(count, strings.Split(joined, ";"))
		checkPinResultsJSON(t, count, reqs, delegates)
	})
}
