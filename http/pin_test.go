package http_test

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multibase"
	mh "github.com/multiformats/go-multihash"
	"github.com/tack-ipfs/tack"
	tackhttp "github.com/tack-ipfs/tack/http"
)

// origin is a multiaddr as Kubo sends it in origins.
const origin = "/ip4/192.0.2.1/tcp/4001/p2p/12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf"

func TestParsePin(t *testing.T) {
	raw := MustCID(t, cid.Raw, "a")
	pb := MustCID(t, cid.DagProtobuf, "b")
	v0 := cid.NewCidV0(pb.Hash())
	dagJSON := MustCID(t, cid.DagJSON, "j")
	ipns := MustCID(t, cid.Libp2pKey, "k")
	gitRaw := MustCID(t, 0x78, "git")
	b36 := MustEncode(t, raw, multibase.Base36)
	// Identity CIDs carry their data inline, as `ipfs add --inline` makes
	// them; tack takes up to 128 bytes, Kubo's largest --inline-limit.
	inline := func(codec uint64, n int) cid.Cid {
		return MustHashCID(t, codec, mh.IDENTITY, []byte(strings.Repeat("x", n)))
	}
	inline128 := inline(cid.DagCBOR, 128)
	inline128raw := inline(cid.Raw, 128)
	inline128base2 := MustEncode(t, inline128raw, multibase.Base2)
	huge := inline(cid.Raw, 37_500).String()

	origins := func(n int) string {
		var o []string
		for i := range n {
			o = append(o, `"/ip4/192.0.2.`+strconv.Itoa(i+1)+`/tcp/4001"`)
		}
		return "[" + strings.Join(o, ",") + "]"
	}
	meta := func(n int) string {
		var kv []string
		for i := range n {
			kv = append(kv, `"k`+strconv.Itoa(i)+`":"v"`)
		}
		return "{" + strings.Join(kv, ",") + "}"
	}

	tests := []struct {
		name     string
		body     string
		want     tack.Pin
		wantCID  cid.Cid
		wantCode string // "" for no error
		wantErr  string
	}{
		{name: "kubo add", body: `{"cid":"` + raw.String() + `","name":"photos","origins":["` + origin + `"]}`,
			want: tack.Pin{CID: raw.String(), Name: "photos", Origins: []string{origin}}, wantCID: raw},
		{name: "cid only", body: `{"cid":"` + v0.String() + `"}`, want: tack.Pin{CID: v0.String()}, wantCID: v0},
		{name: "cid echoed as sent", body: `{"cid":"` + b36 + `"}`, want: tack.Pin{CID: b36}, wantCID: raw},
		{name: "dag-json", body: `{"cid":"` + dagJSON.String() + `"}`, want: tack.Pin{CID: dagJSON.String()}, wantCID: dagJSON},
		{name: "meta", body: `{"cid":"` + raw.String() + `","meta":{"app_id":"x","empty":""}}`,
			want: tack.Pin{CID: raw.String(), Meta: map[string]string{"app_id": "x", "empty": ""}}, wantCID: raw},
		{name: "nulls and unknown fields", body: `{"cid":"` + raw.String() + `","name":null,"origins":null,"meta":null,"extra":[1,{"a":2}]}`,
			want: tack.Pin{CID: raw.String()}, wantCID: raw},
		{name: "empty origins and meta", body: `{"cid":"` + raw.String() + `","origins":[],"meta":{}}`,
			want: tack.Pin{CID: raw.String()}, wantCID: raw},
		{name: "20 origins", body: `{"cid":"` + raw.String() + `","origins":` + origins(20) + `}`, wantCID: raw},
		{name: "1000 meta keys", body: `{"cid":"` + raw.String() + `","meta":` + meta(1000) + `}`, wantCID: raw},
		{name: "name 255 bytes", body: `{"cid":"` + raw.String() + `","name":"` + strings.Repeat("é", 127) + `a"}`,
			want: tack.Pin{CID: raw.String(), Name: strings.Repeat("é", 127) + "a"}, wantCID: raw},
		{name: "identity", body: `{"cid":"bafkqaatine"}`, want: tack.Pin{CID: "bafkqaatine"}, wantCID: MustHashCID(t, cid.Raw, mh.IDENTITY, []byte("hi"))},
		{name: "identity 128 bytes", body: `{"cid":"` + inline128.String() + `"}`, wantCID: inline128},
		{name: "identity 128 bytes in base2", body: `{"cid":"` + inline128base2 + `"}`, want: tack.Pin{CID: inline128base2}, wantCID: inline128raw},
		{name: "identity empty", body: `{"cid":"bafkqaaa"}`, wantCID: inline(cid.Raw, 0)},
		{name: "whitespace around body", body: "\n {\"cid\":\"" + raw.String() + "\"} \n", want: tack.Pin{CID: raw.String()}, wantCID: raw},

		{name: "empty body", body: "", wantCode: tack.EINVALID, wantErr: "must be a JSON Pin object"},
		{name: "not json", body: "cid=" + raw.String(), wantCode: tack.EINVALID, wantErr: "must be a JSON Pin object"},
		{name: "array", body: `["` + raw.String() + `"]`, wantCode: tack.EINVALID, wantErr: "must be a JSON Pin object"},
		{name: "null", body: `null`, wantCode: tack.EINVALID, wantErr: "cid is required"},
		{name: "truncated", body: `{"cid":"` + raw.String(), wantCode: tack.EINVALID, wantErr: "must be a JSON Pin object"},
		{name: "two objects", body: `{"cid":"` + raw.String() + `"}{}`, wantCode: tack.EINVALID, wantErr: "must be a JSON Pin object"},
		{name: "no cid", body: `{"name":"x"}`, wantCode: tack.EINVALID, wantErr: "cid is required"},
		{name: "cid null", body: `{"cid":null}`, wantCode: tack.EINVALID, wantErr: "cid is required"},
		{name: "cid empty", body: `{"cid":""}`, wantCode: tack.EINVALID, wantErr: "cid is required"},
		{name: "cid number", body: `{"cid":5}`, wantCode: tack.EINVALID, wantErr: "invalid cid: must be a string"},
		{name: "cid garbage", body: `{"cid":"hello"}`, wantCode: tack.EINVALID, wantErr: `cid "hello" is not a valid CID`},
		{name: "cid path", body: `{"cid":"/ipfs/` + raw.String() + `"}`, wantCode: tack.EINVALID, wantErr: "not a valid CID"},
		{name: "cid ipns path", body: `{"cid":"/ipns/example.com"}`, wantCode: tack.EINVALID, wantErr: "pinning IPNS names is not supported"},
		{name: "cid ipns key", body: `{"cid":"` + MustEncode(t, ipns, multibase.Base36) + `"}`, wantCode: tack.EINVALID, wantErr: "libp2p-key"},
		{name: "cid unsupported codec", body: `{"cid":"` + gitRaw.String() + `"}`, wantCode: tack.EINVALID, wantErr: "IPLD codec not supported: git-raw"},
		{name: "identity 129 bytes", body: `{"cid":"` + inline(cid.Raw, 129).String() + `"}`, wantCode: tack.EINVALID, wantErr: "an identity CID with 129 bytes of data inline; tack accepts at most 128"},
		{name: "identity 60,000 characters", body: `{"cid":"` + huge + `"}`, wantCode: tack.EINVALID, wantErr: "cid is " + strconv.Itoa(len(huge)) + " characters long"},
		{name: "identity unsupported codec", body: `{"cid":"` + inline(0x78, 10).String() + `"}`, wantCode: tack.EINVALID, wantErr: "IPLD codec not supported: git-raw"},
		{name: "digest truncated", body: `{"cid":"` + MustHashCID(t, cid.Raw, mh.SHA2_256, make([]byte, 8)).String() + `"}`, wantCode: tack.EINVALID, wantErr: "sha2-256 digest is 8 bytes"},
		{name: "digest oversized", body: `{"cid":"` + MustHashCID(t, cid.Raw, mh.SHA2_256, make([]byte, 200)).String() + `"}`, wantCode: tack.EINVALID, wantErr: "sha2-256 digest is 200 bytes"},
		{name: "sha2-256 digest of 20 bytes", body: `{"cid":"` + MustHashCID(t, cid.Raw, mh.SHA2_256, make([]byte, 20)).String() + `"}`, wantCode: tack.EINVALID, wantErr: "sha2-256 digest is 20 bytes, but sha2-256 digests are 32 bytes"},
		{name: "sha2-512 digest of 32 bytes", body: `{"cid":"` + MustHashCID(t, cid.Raw, mh.SHA2_512, make([]byte, 32)).String() + `"}`, wantCode: tack.EINVALID, wantErr: "sha2-512 digests are 64 bytes"},
		{name: "insecure hash", body: `{"cid":"` + MustHashCID(t, cid.Raw, mh.MD5, make([]byte, 16)).String() + `"}`, wantCode: tack.EINVALID, wantErr: "hash function md5"},
		{name: "name 256 bytes", body: `{"cid":"` + raw.String() + `","name":"` + strings.Repeat("é", 128) + `"}`, wantCode: tack.EINVALID, wantErr: "name is 256 bytes long"},
		{name: "name number", body: `{"cid":"` + raw.String() + `","name":1}`, wantCode: tack.EINVALID, wantErr: "invalid name: must be a string"},
		{name: "name NUL", body: `{"cid":"` + raw.String() + `","name":"a\u0000b"}`, wantCode: tack.EINVALID, wantErr: "NUL"},
		{name: "21 origins", body: `{"cid":"` + raw.String() + `","origins":` + origins(21) + `}`, wantCode: tack.EINVALID, wantErr: "invalid origins: 21 given, at most 20"},
		{name: "origin not multiaddr", body: `{"cid":"` + raw.String() + `","origins":["http://example.com"]}`, wantCode: tack.EINVALID, wantErr: `invalid origins: "http://example.com" is not a multiaddr`},
		{name: "origin empty", body: `{"cid":"` + raw.String() + `","origins":[""]}`, wantCode: tack.EINVALID, wantErr: "is not a multiaddr"},
		{name: "origin null", body: `{"cid":"` + raw.String() + `","origins":[null]}`, wantCode: tack.EINVALID, wantErr: "invalid origins"},
		{name: "origin number", body: `{"cid":"` + raw.String() + `","origins":[1]}`, wantCode: tack.EINVALID, wantErr: "invalid origins"},
		{name: "origins string", body: `{"cid":"` + raw.String() + `","origins":"` + origin + `"}`, wantCode: tack.EINVALID, wantErr: "invalid origins: must be an array"},
		{name: "origin twice", body: `{"cid":"` + raw.String() + `","origins":["` + origin + `","` + origin + `"]}`, wantCode: tack.EINVALID, wantErr: "given twice"},
		{name: "1001 meta keys", body: `{"cid":"` + raw.String() + `","meta":` + meta(1001) + `}`, wantCode: tack.EINVALID, wantErr: "invalid meta: 1001 keys"},
		{name: "meta number", body: `{"cid":"` + raw.String() + `","meta":{"k":1}}`, wantCode: tack.EINVALID, wantErr: `invalid meta: the value of "k" is not a string`},
		{name: "meta bool", body: `{"cid":"` + raw.String() + `","meta":{"k":true}}`, wantCode: tack.EINVALID, wantErr: "not a string"},
		{name: "meta nested", body: `{"cid":"` + raw.String() + `","meta":{"k":{"a":"b"}}}`, wantCode: tack.EINVALID, wantErr: "not a string"},
		{name: "meta null value", body: `{"cid":"` + raw.String() + `","meta":{"k":null}}`, wantCode: tack.EINVALID, wantErr: "not a string"},
		{name: "meta array", body: `{"cid":"` + raw.String() + `","meta":["k"]}`, wantCode: tack.EINVALID, wantErr: "invalid meta: not a JSON object"},
		{name: "meta string", body: `{"cid":"` + raw.String() + `","meta":"k=v"}`, wantCode: tack.EINVALID, wantErr: "invalid meta"},
		{name: "meta value too long", body: `{"cid":"` + raw.String() + `","meta":{"k":"` + strings.Repeat("v", 4097) + `"}}`, wantCode: tack.EINVALID, wantErr: "over the limit of 4096 bytes"},
		{name: "meta key too long", body: `{"cid":"` + raw.String() + `","meta":{"` + strings.Repeat("k", 256) + `":"v"}}`, wantCode: tack.EINVALID, wantErr: "over the limit of 255 bytes"},
		{name: "body too large", body: `{"cid":"` + raw.String() + `","name":"` + strings.Repeat(" ", tackhttp.MaxBodyBytes) + `"}`, wantCode: tack.ETOOLARGE, wantErr: "over the limit of 65536 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, gotCID, err := tackhttp.ParsePin([]byte(tt.body))
			if tt.wantCode != "" {
				if err == nil {
					t.Fatalf("got cid %.100s…, want error containing %q", got.CID, tt.wantErr)
				}
				if code := tack.ErrorCode(err); code != tt.wantCode {
					t.Errorf("got code %q, want %q", code, tt.wantCode)
				}
				if msg := tack.ErrorMessage(err); !strings.Contains(msg, tt.wantErr) {
					t.Errorf("got error %q, want it to contain %q", msg, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v", err)
			}
			if !gotCID.Equals(tt.wantCID) {
				t.Errorf("got CID %s, want %s", gotCID, tt.wantCID)
			}
			if tt.want.CID != "" && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestPinStatusJSON checks the wire shape: lower-case field names, results
// never null, optional Pin fields left out.
func TestPinStatusJSON(t *testing.T) {
	b, err := json.Marshal(tackhttp.PinResults{Results: []tackhttp.PinStatus{{
		RequestID: "r", Status: tack.StatusQueued, Created: "2026-11-23T10:00:00.000000Z",
		Pin: tackhttp.Pin{CID: "c"}, Delegates: []string{"/ip4/192.0.2.1/tcp/4001/p2p/x"}, Info: map[string]string{},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"count":0,"results":[{"requestid":"r","status":"queued","created":"2026-11-23T10:00:00.000000Z","pin":{"cid":"c"},"delegates":["/ip4/192.0.2.1/tcp/4001/p2p/x"],"info":{}}]}`
	if got := string(b); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
