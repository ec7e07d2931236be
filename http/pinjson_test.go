package http_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tack-ipfs/tack"
	tackhttp "github.com/tack-ipfs/tack/http"
)

// pinResultsOf builds PinResults whose every string field comes from
// parts, cycled, with nil and empty slices and maps in turn, so that one
// input reaches every branch of the encoder.
func pinResultsOf(count int, parts []string) *tackhttp.PinResults {
	at := 0
	next := func() string {
		if len(parts) == 0 {
			return ""
		}
		s := parts[at%len(parts)]
		at++
		return s
	}
	res := &tackhttp.PinResults{Count: count}
	if count%3 == 0 {
		return res // Results nil
	}
	res.Results = []tackhttp.PinStatus{}
	for i := range 4 {
		p := tackhttp.PinStatus{
			RequestID: next(), Status: tack.Status(next()), Created: next(),
			Pin: tackhttp.Pin{CID: next(), Name: next()},
		}
		switch i {
		case 1:
			p.Pin.Origins, p.Pin.Meta = []string{}, map[string]string{}
			p.Delegates, p.Info = []string{}, map[string]string{}
		case 2, 3:
			p.Pin.Origins = []string{next(), next(), next()}
			p.Pin.Meta = map[string]string{next(): next(), next(): next(), "app": next()}
			p.Delegates = []string{next()}
			p.Info = map[string]string{next(): next(), "status_details": next()}
		}
		res.Results = append(res.Results, p)
	}
	return res
}

func checkPinResultsJSON(t *testing.T, res *tackhttp.PinResults) {
	t.Helper()
	want, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	got := tackhttp.AppendPinResultsJSON([]byte("prefix"), res)
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
			checkPinResultsJSON(t, pinResultsOf(count, parts))
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
		checkPinResultsJSON(t, pinResultsOf(count, strings.Split(joined, ";")))
	})
}
