package sqlrow

import (
	"encoding/json"
	"reflect"
	"testing"
)

var jsonSeeds = []string{
	`[]`, `{}`, ` [ ] `, `null`, ``, `[`, `{`, `]`, `[,]`, `[""]`, `["a",]`, `["a" "b"]`,
	`["/ip4/203.0.113.7/tcp/4001/p2p/12D3KooWGC6TvWhfapngX6wvJHMYvKpDMXPb3ZnCZ6dMoaMtimQ5"]`,
	`["a", "b"]`, "[\"a\"]\n", `["a"] x`, `["a\"b"]`, `["\u003c"]`, `["é"]`, "[\"\xff\"]", "[\"\x01\"]",
	`[1]`, `[null]`, `["a",null]`, `{"app":"backup","host":"web-3"}`, `{"app": "backup", "host": "web-3"}`,
	`{"a":"1","a":"2"}`, `{"a":1}`, `{"a":"1",}`, `{"a" "1"}`, `{"a":"1"}}`, `{"é":"ü"}`, `{"":""}`,
	`{"a":"b\nc"}`, "{\"a\":\"\x7f\"}", `{"a":"1"} `, `{"a":["x"]}`,
}

// The hand-written reader decides every input exactly as json.Unmarshal.
func TestPlainJSONMatchesUnmarshal(t *testing.T) {
	for _, s := range jsonSeeds {
		checkStrings(t, []byte(s))
		checkStringMap(t, []byte(s))
	}
}

func FuzzPlainJSON(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkStrings(t, b)
		checkStringMap(t, b)
	})
}

func checkStrings(t *testing.T, b []byte) {
	t.Helper()
	var got, want []string
	gotErr := unmarshalStrings(string(b), &got)
	wantErr := json.Unmarshal(b, &want)
	if (gotErr != nil) != (wantErr != nil) || !reflect.DeepEqual(got, want) {
		t.Errorf("strings %q: got %#v, %v; json.Unmarshal %#v, %v", b, got, gotErr, want, wantErr)
	}
}

func checkStringMap(t *testing.T, b []byte) {
	t.Helper()
	var got, want map[string]string
	gotErr := unmarshalStringMap(string(b), &got)
	wantErr := json.Unmarshal(b, &want)
	if (gotErr != nil) != (wantErr != nil) || !reflect.DeepEqual(got, want) {
		t.Errorf("map %q: got %#v, %v; json.Unmarshal %#v, %v", b, got, gotErr, want, wantErr)
	}
}
