package http_test

import (
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multibase"
	mh "github.com/multiformats/go-multihash"
	"github.com/tack-ipfs/tack"
	tackhttp "github.com/tack-ipfs/tack/http"
)

// MustCID returns the CIDv1 of data with the given codec.
func MustCID(tb testing.TB, codec uint64, data string) cid.Cid {
	tb.Helper()
	h, err := mh.Sum([]byte(data), mh.SHA2_256, -1)
	if err != nil {
		tb.Fatal(err)
	}
	return cid.NewCidV1(codec, h)
}

// MustHashCID returns the CIDv1 of the codec whose multihash is digest under
// the hash function code, whatever its length: identity CIDs, truncated or
// oversized digests.
func MustHashCID(tb testing.TB, codec, code uint64, digest []byte) cid.Cid {
	tb.Helper()
	h, err := mh.Encode(digest, code)
	if err != nil {
		tb.Fatal(err)
	}
	return cid.NewCidV1(codec, h)
}

// MustEncode returns c in the multibase base.
func MustEncode(tb testing.TB, c cid.Cid, base multibase.Encoding) string {
	tb.Helper()
	s, err := c.StringOfBase(base)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// MustTime parses an RFC 3339 time.
func MustTime(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		tb.Fatal(err)
	}
	return t.UTC()
}

func ptr[T any](v T) *T { return &v }

func TestParseListQuery(t *testing.T) {
	raw := MustCID(t, cid.Raw, "a")
	pb := MustCID(t, cid.DagProtobuf, "b")
	v0 := cid.NewCidV0(pb.Hash())
	cbor := MustCID(t, cid.DagCBOR, "c")
	ipns := MustCID(t, cid.Libp2pKey, "k")
	gitRaw := MustCID(t, 0x78, "git") // git-raw: not an accepted codec
	key := tack.ContentKey

	var eleven []string
	for i := range 11 {
		eleven = append(eleven, MustCID(t, cid.Raw, strings.Repeat("x", i+1)).String())
	}
	all := []tack.Status{tack.StatusQueued, tack.StatusPinning, tack.StatusPinned, tack.StatusFailed}

	base := func(mod func(f *tack.PinFilter)) tack.PinFilter {
		f := tack.PinFilter{AccountID: 7, Match: tack.MatchExact, Limit: 10, Statuses: []tack.Status{tack.StatusPinned}}
		if mod != nil {
			mod(&f)
		}
		return f
	}

	tests := []struct {
		name    string
		query   string
		want    tack.PinFilter
		wantErr string // part of the error message; "" for no error
	}{
		{name: "defaults", query: "", want: base(nil)},
		{name: "unknown params ignored", query: "foo=bar&cursor=x", want: base(nil)},
		{name: "kubo ls", query: "cid=" + raw.String() + "&limit=10&status=pinned", want: base(func(f *tack.PinFilter) { f.Keys = []string{key(raw)} })},
		{name: "kubo stat", query: "limit=1&status=queued", want: base(func(f *tack.PinFilter) {
			f.Limit = 1
			f.Statuses = []tack.Status{tack.StatusQueued}
		})},
		{name: "kubo mfs policy", query: "name=policy%2F12D3KooWabc%2Fmfs&status=queued%2Cpinning%2Cpinned%2Cfailed&limit=10", want: base(func(f *tack.PinFilter) {
			f.Name = ptr("policy/12D3KooWabc/mfs")
			f.Statuses = all
		})},

		// cid
		{name: "cid list", query: "cid=" + raw.String() + "," + v0.String() + "," + cbor.String(), want: base(func(f *tack.PinFilter) {
			f.Keys = []string{key(raw), key(pb), key(cbor)}
			f.Statuses = nil
		})},
		{name: "cid repeated param", query: "cid=" + raw.String() + "&cid=" + cbor.String(), want: base(func(f *tack.PinFilter) {
			f.Keys = []string{key(raw), key(cbor)}
			f.Statuses = nil
		})},
		{name: "cid v0 and v1 twins are one key", query: "cid=" + v0.String() + "," + pb.String(), want: base(func(f *tack.PinFilter) {
			f.Keys = []string{key(pb)}
			f.Statuses = nil
		})},
		{name: "cid base58btc and base36", query: "cid=" + MustEncode(t, raw, multibase.Base58BTC) + "," + MustEncode(t, cbor, multibase.Base36), want: base(func(f *tack.PinFilter) {
			f.Keys = []string{key(raw), key(cbor)}
			f.Statuses = nil
		})},
		{name: "cid with spaces and trailing comma", query: "cid=" + url.QueryEscape(" "+raw.String()+" ,"), want: base(func(f *tack.PinFilter) {
			f.Keys = []string{key(raw)}
			f.Statuses = nil
		})},
		{name: "cid with status keeps status", query: "cid=" + raw.String() + "&status=failed", want: base(func(f *tack.PinFilter) {
			f.Keys = []string{key(raw)}
			f.Statuses = []tack.Status{tack.StatusFailed}
		})},
		{name: "cid ten", query: "cid=" + strings.Join(eleven[:10], ","), want: base(func(f *tack.PinFilter) {
			for _, s := range eleven[:10] {
				f.Keys = append(f.Keys, key(cid.MustParse(s)))
			}
			f.Statuses = nil
		})},
		{name: "cid eleven", query: "cid=" + strings.Join(eleven, ","), wantErr: "invalid cid: at most 10"},
		{name: "cid eleven over repeated params", query: "cid=" + strings.Join(eleven[:6], ",") + "&cid=" + strings.Join(eleven[6:], ","), wantErr: "invalid cid: at most 10"},
		{name: "cid empty", query: "cid=", wantErr: "invalid cid: give 1 to 10"},
		{name: "cid commas only", query: "cid=,,", wantErr: "invalid cid"},
		{name: "cid garbage", query: "cid=hello", wantErr: "not a valid CID"},
		{name: "cid ipns key", query: "cid=" + MustEncode(t, ipns, multibase.Base36), wantErr: "IPNS"},
		{name: "cid ipns path", query: "cid=/ipns/example.com", wantErr: "IPNS"},
		{name: "cid unsupported codec", query: "cid=" + gitRaw.String(), wantErr: "codec not supported"},

		// name and match
		{name: "name", query: "name=photos", want: base(func(f *tack.PinFilter) { f.Name = ptr("photos"); f.Statuses = nil })},
		{name: "name with LIKE wildcards", query: "name=%25_x", want: base(func(f *tack.PinFilter) { f.Name = ptr("%_x"); f.Statuses = nil })},
		{name: "name 255 bytes", query: "name=" + strings.Repeat("é", 127) + "a", want: base(func(f *tack.PinFilter) {
			f.Name = ptr(strings.Repeat("é", 127) + "a")
			f.Statuses = nil
		})},
		{name: "name 256 bytes", query: "name=" + strings.Repeat("é", 128), wantErr: "name is 256 bytes long"},
		{name: "name empty is ignored", query: "name=", want: base(nil)},
		{name: "name not utf-8", query: "name=%FF", wantErr: "name is not valid UTF-8"},
		{name: "name NUL", query: "name=a%00b", wantErr: "name contains a NUL"},
		{name: "match iexact", query: "name=Photos&match=iexact", want: base(func(f *tack.PinFilter) {
			f.Name, f.Match, f.Statuses = ptr("Photos"), tack.MatchIExact, nil
		})},
		{name: "match partial", query: "name=ph&match=partial", want: base(func(f *tack.PinFilter) {
			f.Name, f.Match, f.Statuses = ptr("ph"), tack.MatchPartial, nil
		})},
		{name: "match ipartial", query: "name=PH&match=ipartial", want: base(func(f *tack.PinFilter) {
			f.Name, f.Match, f.Statuses = ptr("PH"), tack.MatchIPartial, nil
		})},
		{name: "match without name", query: "match=partial", want: base(func(f *tack.PinFilter) { f.Match = tack.MatchPartial })},
		{name: "match unknown", query: "name=a&match=fuzzy", wantErr: `invalid match "fuzzy"`},
		{name: "match case matters", query: "name=a&match=EXACT", wantErr: "invalid match"},

		// status
		{name: "status all four", query: "status=queued,pinning,pinned,failed", want: base(func(f *tack.PinFilter) { f.Statuses = all })},
		{name: "status repeated and duplicated", query: "status=queued&status=failed,queued", want: base(func(f *tack.PinFilter) {
			f.Statuses = []tack.Status{tack.StatusQueued, tack.StatusFailed}
		})},
		{name: "status unknown", query: "status=offloaded", wantErr: `invalid status "offloaded"`},
		{name: "status one unknown", query: "status=pinned,done", wantErr: `invalid status "done"`},
		{name: "status empty", query: "status=", wantErr: "invalid status"},
		{name: "status upper case", query: "status=PINNED", wantErr: "invalid status"},

		// before and after
		{name: "before kubo RFC3339Nano", query: "before=" + url.QueryEscape("2026-11-23T10:00:00.123456789+01:00"), want: base(func(f *tack.PinFilter) {
			f.Before = MustTime(t, "2026-11-23T09:00:00.123457Z") // rounded up to µs
		})},
		{name: "before microseconds Z", query: "before=2026-11-23T10:00:00.123456Z", want: base(func(f *tack.PinFilter) {
			f.Before = MustTime(t, "2026-11-23T10:00:00.123456Z")
		})},
		{name: "before no fraction", query: "before=2026-11-23T10:00:00Z", want: base(func(f *tack.PinFilter) { f.Before = MustTime(t, "2026-11-23T10:00:00Z") })},
		{name: "before one digit", query: "before=2026-11-23T10:00:00.5Z", want: base(func(f *tack.PinFilter) { f.Before = MustTime(t, "2026-11-23T10:00:00.5Z") })},
		{name: "before raw plus as space", query: "before=2026-11-23T10:00:00.000001+02:00", want: base(func(f *tack.PinFilter) {
			f.Before = MustTime(t, "2026-11-23T08:00:00.000001Z")
		})},
		{name: "before negative offset", query: "before=2026-11-23T10:00:00-05:30", want: base(func(f *tack.PinFilter) { f.Before = MustTime(t, "2026-11-23T15:30:00Z") })},
		{name: "before lower case t and z", query: "before=2026-11-23t10:00:00z", want: base(func(f *tack.PinFilter) { f.Before = MustTime(t, "2026-11-23T10:00:00Z") })},
		{name: "before year one matches nothing", query: "before=0001-01-01T00:00:00Z", want: base(func(f *tack.PinFilter) { f.Before = time.Time{}.Add(time.Microsecond) })},
		{name: "after rounded down", query: "after=2026-11-23T10:00:00.1234569Z", want: base(func(f *tack.PinFilter) {
			f.After = MustTime(t, "2026-11-23T10:00:00.123456Z")
		})},
		{name: "before and after", query: "after=2026-01-01T00:00:00Z&before=2026-02-01T00:00:00Z", want: base(func(f *tack.PinFilter) {
			f.After, f.Before = MustTime(t, "2026-01-01T00:00:00Z"), MustTime(t, "2026-02-01T00:00:00Z")
		})},
		{name: "before date only", query: "before=2026-11-23", wantErr: `invalid before "2026-11-23"`},
		{name: "before unix", query: "before=1700000000", wantErr: "invalid before"},
		{name: "before no zone", query: "before=2026-11-23T10:00:00", wantErr: "invalid before"},
		{name: "before empty", query: "before=", wantErr: "invalid before"},
		{name: "after garbage", query: "after=yesterday", wantErr: `invalid after "yesterday"`},
		{name: "after bad month", query: "after=2026-13-01T00:00:00Z", wantErr: "invalid after"},

		// limit
		{name: "limit 1", query: "limit=1", want: base(func(f *tack.PinFilter) { f.Limit = 1 })},
		{name: "limit 1000", query: "limit=1000", want: base(func(f *tack.PinFilter) { f.Limit = 1000 })},
		{name: "limit 0", query: "limit=0", wantErr: `invalid limit "0": must be an integer from 1 to 1000`},
		{name: "limit 1001", query: "limit=1001", wantErr: "invalid limit"},
		{name: "limit negative", query: "limit=-1", wantErr: "invalid limit"},
		{name: "limit float", query: "limit=10.0", wantErr: "invalid limit"},
		{name: "limit word", query: "limit=ten", wantErr: "invalid limit"},
		{name: "limit empty", query: "limit=", wantErr: "invalid limit"},
		{name: "limit huge", query: "limit=99999999999999999999999", wantErr: "invalid limit"},

		// meta
		{name: "meta", query: "meta=" + url.QueryEscape(`{"app_id":"99986338","k":"v"}`), want: base(func(f *tack.PinFilter) {
			f.Meta = map[string]string{"app_id": "99986338", "k": "v"}
			f.Statuses = nil
		})},
		{name: "meta with status", query: "status=pinned&meta=" + url.QueryEscape(`{"a":"b"}`), want: base(func(f *tack.PinFilter) {
			f.Meta = map[string]string{"a": "b"}
		})},
		{name: "meta empty object", query: "meta=%7B%7D", want: base(nil)},
		{name: "meta boxo map form", query: "meta=" + url.QueryEscape("map[k:v]"), wantErr: "invalid meta: not a JSON object"},
		{name: "meta number value", query: "meta=" + url.QueryEscape(`{"k":1}`), wantErr: "not a string"},
		{name: "meta object value", query: "meta=" + url.QueryEscape(`{"k":{}}`), wantErr: "not a string"},
		{name: "meta null value", query: "meta=" + url.QueryEscape(`{"k":null}`), wantErr: "not a string"},
		{name: "meta array", query: "meta=" + url.QueryEscape(`["k"]`), wantErr: "invalid meta"},
		{name: "meta string", query: "meta=" + url.QueryEscape(`"k"`), wantErr: "invalid meta"},
		{name: "meta null", query: "meta=null", want: base(nil)},
		{name: "meta not json", query: "meta=k%3Dv", wantErr: "invalid meta"},
		{name: "meta empty", query: "meta=", wantErr: "invalid meta"},
		{name: "meta trailing garbage", query: "meta=" + url.QueryEscape(`{"k":"v"}x`), wantErr: "invalid meta"},
		{name: "meta key too long", query: "meta=" + url.QueryEscape(`{"`+strings.Repeat("k", 256)+`":"v"}`), wantErr: "over the limit of 255 bytes"},
		{name: "meta value too long", query: "meta=" + url.QueryEscape(`{"k":"`+strings.Repeat("v", 4097)+`"}`), wantErr: "over the limit of 4096 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatalf("bad test query: %v", err)
			}
			got, err := tackhttp.ParseListQuery(q, 7)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("got %+v, want error containing %q", got, tt.wantErr)
				}
				if code := tack.ErrorCode(err); code != tack.EINVALID {
					t.Errorf("got code %q, want %q", code, tack.EINVALID)
				}
				if msg := tack.ErrorMessage(err); !strings.Contains(msg, tt.wantErr) {
					t.Errorf("got error %q, want it to contain %q", msg, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseListQueryMetaKeys(t *testing.T) {
	for _, tt := range []struct {
		keys    int
		wantErr bool
	}{{1000, false}, {1001, true}} {
		var b strings.Builder
		b.WriteString("{")
		for i := range tt.keys {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`"k` + strconv.Itoa(i) + `":"v"`)
		}
		b.WriteString("}")
		f, err := tackhttp.ParseListQuery(url.Values{"meta": {b.String()}}, 1)
		if gotErr := err != nil; gotErr != tt.wantErr {
			t.Fatalf("%d keys: got error %v, want error %v", tt.keys, err, tt.wantErr)
		}
		if err == nil && len(f.Meta) != tt.keys {
			t.Errorf("%d keys: got %d", tt.keys, len(f.Meta))
		}
	}
}
