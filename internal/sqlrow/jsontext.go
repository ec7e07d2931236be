package sqlrow

import (
	"encoding/json"
	"unicode/utf8"
)

// A pin's origins and meta are stored as JSON that json.Marshal wrote (or
// PostgreSQL's jsonb printed): arrays and objects of plain strings. A page
// of 1,000 requests spent a third of its CPU in json.Unmarshal reading
// them, so they are read by hand; anything but the plain form (escapes,
// null, numbers, control bytes, invalid UTF-8) goes to json.Unmarshal,
// which decides exactly as before. The strings read are substrings of
// the column's text, which the driver allocated for this row alone: no
// copy each.

// unmarshalStrings reads a JSON array of strings into *out.
func unmarshalStrings(data string, out *[]string) error {
	if data == "null" { // what json.Marshal writes for none
		*out = nil
		return nil
	}
	if v, ok := plainStrings(data); ok {
		*out = v
		return nil
	}
	return json.Unmarshal([]byte(data), out)
}

// unmarshalStringMap reads a JSON object of strings into *out.
func unmarshalStringMap(data string, out *map[string]string) error {
	if data == "null" { // what json.Marshal writes for none
		*out = nil
		return nil
	}
	if v, ok := plainStringMap(data); ok {
		*out = v
		return nil
	}
	return json.Unmarshal([]byte(data), out)
}

// jsonText scans JSON text of plain strings.
type jsonText struct {
	b string
	i int
}

func (t *jsonText) space() {
	for t.i < len(t.b) {
		switch t.b[t.i] {
		case ' ', '\t', '\n', '\r':
			t.i++
		default:
			return
		}
	}
}

// next skips white space and consumes c if it comes next.
func (t *jsonText) next(c byte) bool {
	t.space()
	if t.i < len(t.b) && t.b[t.i] == c {
		t.i++
		return true
	}
	return false
}

// str reads a string with no escape, control byte or invalid UTF-8.
func (t *jsonText) str() (string, bool) {
	if !t.next('"') {
		return "", false
	}
	start := t.i
	ascii := true
	for ; t.i < len(t.b); t.i++ {
		switch c := t.b[t.i]; {
		case c == '"':
			s := t.b[start:t.i]
			t.i++
			if !ascii && !utf8.ValidString(s) {
				return "", false
			}
			return s, true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// end reports whether only white space is left.
func (t *jsonText) end() bool {
	t.space()
	return t.i == len(t.b)
}

func plainStrings(data string) ([]string, bool) {
	t := jsonText{b: data}
	if !t.next('[') {
		return nil, false
	}
	out := []string{}
	if t.next(']') {
		return out, t.end()
	}
	for {
		s, ok := t.str()
		if !ok {
			return nil, false
		}
		out = append(out, s)
		if t.next(']') {
			return out, t.end()
		}
		if !t.next(',') {
			return nil, false
		}
	}
}

func plainStringMap(data string) (map[string]string, bool) {
	t := jsonText{b: data}
	if !t.next('{') {
		return nil, false
	}
	out := map[string]string{}
	if t.next('}') {
		return out, t.end()
	}
	for {
		k, ok := t.str()
		if !ok || !t.next(':') {
			return nil, false
		}
		v, ok := t.str()
		if !ok {
			return nil, false
		}
		out[k] = v
		if t.next('}') {
			return out, t.end()
		}
		if !t.next(',') {
			return nil, false
		}
	}
}
