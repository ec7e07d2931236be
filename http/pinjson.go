package http

import (
	"slices"

	"github.com/tack-ipfs/tack"
	"strconv"
	"unicode/utf8"
)

// A page of GET /pins is up to 1,000 requests, and encoding it with
// encoding/json, by reflection, cost about a quarter of the page's CPU;
// building each request's PinStatus first (its info map, its created
// string) cost a fifth of the page's allocations. appendPinPageJSON
// writes the same bytes as json.Marshal of the PinResults directly, from
// the requests: FuzzPinResultsJSON checks them against it.

// appendPinPageJSON appends the JSON of the PinResults of count and reqs,
// each request's PinStatus as pinStatus(r, delegates) makes it, byte for
// byte as json.Marshal writes it.
func appendPinPageJSON(b []byte, count int, reqs []*tack.PinRequest, delegates []string) []byte {
	if delegates == nil {
		delegates = []string{}
	}
	// The same for every request: written once.
	var buf [256]byte
	dj := append(append(buf[:0], `},"delegates":`...), appendJSONStrings(nil, delegates)...)
	dj = append(dj, `,"info":`...)
	b = append(b, `{"count":`...)
	b = strconv.AppendInt(b, int64(count), 10)
	b = append(b, `,"results":[`...)
	for i, r := range reqs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendPinRequestJSON(b, r, dj)
	}
	return append(b, "]}"...)
}

// appendPinRequestJSON appends the JSON of r's PinStatus, with dj the
// bytes between its pin and its info's value: the end of the pin, the
// delegates and the info's key.
func appendPinRequestJSON(b []byte, r *tack.PinRequest, dj []byte) []byte {
	b = append(b, `{"requestid":`...)
	b = appendJSONString(b, r.ID)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, string(r.Status))
	b = append(b, `,"created":"`...)
	b = r.Created.UTC().AppendFormat(b, timeLayout) // nothing to escape
	b = append(b, `","pin":{"cid":`...)
	b = appendJSONString(b, r.Pin.CID)
	if r.Pin.Name != "" {
		b = append(b, `,"name":`...)
		b = appendJSONString(b, r.Pin.Name)
	}
	if len(r.Pin.Origins) > 0 {
		b = append(b, `,"origins":`...)
		b = appendJSONStrings(b, r.Pin.Origins)
	}
	if len(r.Pin.Meta) > 0 {
		b = append(b, `,"meta":`...)
		b = appendJSONMap(b, r.Pin.Meta)
	}
	b = append(b, dj...)
	if r.Status == tack.StatusPinned {
		// What Info holds for a pinned request, without the map and
		// its strings; its keys in order.
		b = append(b, `{"blocks":"`...)
		b = strconv.AppendInt(b, r.Blocks, 10)
		b = append(b, `","dag_size":"`...)
		b = strconv.AppendInt(b, r.Bytes, 10)
		b = append(b, `"}`...)
	} else {
		b = appendJSONMap(b, r.Info())
	}
	return append(b, '}')
}

// appendJSONStrings appends a JSON array of strings, or null for nil.
func appendJSONStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendJSONMap appends a JSON object of strings with its keys sorted, as
// encoding/json orders them, or null for nil.
func appendJSONMap(b []byte, m map[string]string) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	var buf [8]string
	keys := buf[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, m[k])
	}
	return append(b, '}')
}

// jsonPlain marks the ASCII bytes encoding/json writes as they are: every
// printable one but '"', '\\' and, since it escapes HTML, '<', '>' and '&'.
var jsonPlain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, escaped as encoding/json
// escapes it: \" \\ \b \f \n \r \t, other control bytes and <, >, & as
// \u00xx, U+2028 and U+2029 as \u2028 and \u2029, and each byte of
// invalid UTF-8 as \ufffd.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if jsonPlain[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
