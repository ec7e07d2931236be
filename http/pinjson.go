package http

import (
	"slices"
	"strconv"
	"unicode/utf8"
)

// A page of GET /pins is up to 1,000 PinStatus objects, and encoding it
// with encoding/json, by reflection, cost about a quarter of the page's
// CPU. appendJSON writes the same bytes as json.Marshal directly:
// FuzzPinResultsJSON checks them against it.

// appendJSON appends the JSON of res to b, byte for byte as json.Marshal
// writes it.
func (res *PinResults) appendJSON(b []byte) []byte {
	b = append(b, `{"count":`...)
	b = strconv.AppendInt(b, int64(res.Count), 10)
	b = append(b, `,"results":`...)
	if res.Results == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range res.Results {
			if i > 0 {
				b = append(b, ',')
			}
			b = res.Results[i].appendJSON(b)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendJSON appends the JSON of p to b, byte for byte as json.Marshal
// writes it.
func (p *PinStatus) appendJSON(b []byte) []byte {
	b = append(b, `{"requestid":`...)
	b = appendJSONString(b, p.RequestID)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, string(p.Status))
	b = append(b, `,"created":`...)
	b = appendJSONString(b, p.Created)
	b = append(b, `,"pin":{"cid":`...)
	b = appendJSONString(b, p.Pin.CID)
	if p.Pin.Name != "" {
		b = append(b, `,"name":`...)
		b = appendJSONString(b, p.Pin.Name)
	}
	if len(p.Pin.Origins) > 0 {
		b = append(b, `,"origins":`...)
		b = appendJSONStrings(b, p.Pin.Origins)
	}
	if len(p.Pin.Meta) > 0 {
		b = append(b, `,"meta":`...)
		b = appendJSONMap(b, p.Pin.Meta)
	}
	b = append(b, `},"delegates":`...)
	b = appendJSONStrings(b, p.Delegates)
	b = append(b, `,"info":`...)
	b = appendJSONMap(b, p.Info)
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
