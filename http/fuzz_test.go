package http_test

import (
	"errors"
	"net/url"
	"testing"
	"unicode/utf8"

	"github.com/tack-ipfs/tack"
	tackhttp "github.com/tack-ipfs/tack/http"
)

// mustTackError fails unless err is a *tack.Error with one of the codes.
func mustTackError(t *testing.T, err error, codes ...string) {
	t.Helper()
	var e *tack.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *tack.Error", err, err)
	}
	for _, c := range codes {
		if e.Code == c {
			return
		}
	}
	t.Fatalf("error code %q, want one of %v", e.Code, codes)
}

// checkMeta fails unless meta respects the limits of Pin.meta.
func checkMeta(t *testing.T, meta map[string]string) {
	t.Helper()
	if len(meta) > tack.MaxMetaKeys {
		t.Fatalf("%d meta keys", len(meta))
	}
	for k, v := range meta {
		if len(k) > tack.MaxMetaKeySize || len(v) > tack.MaxMetaValSize || !utf8.ValidString(k) || !utf8.ValidString(v) {
			t.Fatalf("meta %q: %q breaks a limit", k, v)
		}
	}
}

func FuzzParseListQuery(f *testing.F) {
	for _, q := range []string{
		"",
		"limit=1&status=queued", // kubo service ls --stat
		"cid=bafkreidgvpkjawlxz6sffxzwgooowe5yt7i6wsyg236mfoks77nywkptdq&limit=10&status=pinned",
		"cid=QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG%2Cbafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi&limit=10&status=pinned",
		"name=policy%2F12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf%2Fmfs&status=queued%2Cpinning%2Cpinned%2Cfailed&limit=10",
		"before=2026-11-23T10%3A00%3A00.123456789%2B01%3A00&limit=10&status=pinned",
		"before=2026-11-23T10:00:00.1+01:00",
		"after=2026-11-23T10:00:00Z&before=2026-11-24T10:00:00.000001Z",
		"name=photos&match=ipartial",
		"meta=%7B%22app_id%22%3A%2299986338-1113-4706-8302-4420da6158aa%22%7D",
		"meta=map%5Bk%3Av%5D",
		"limit=1000&status=failed&cid=bafkreidgvpkjawlxz6sffxzwgooowe5yt7i6wsyg236mfoks77nywkptdq&cid=bafkreidgvpkjawlxz6sffxzwgooowe5yt7i6wsyg236mfoks77nywkptdq",
		"cid=/ipns/example.com",
		"limit=0",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw)
		got, err := tackhttp.ParseListQuery(q, 1)
		if err != nil {
			mustTackError(t, err, tack.EINVALID)
			return
		}
		if got.AccountID != 1 {
			t.Fatalf("account %d", got.AccountID)
		}
		if got.Limit < 1 || got.Limit > tack.MaxListLimit {
			t.Fatalf("limit %d", got.Limit)
		}
		if len(got.Keys) > tack.MaxFilterCIDs {
			t.Fatalf("%d keys", len(got.Keys))
		}
		for _, k := range got.Keys {
			if c, err := tack.ParseCID(k); err != nil || tack.ContentKey(c) != k {
				t.Fatalf("key %q is not a content key", k)
			}
		}
		if got.Name != nil && (len(*got.Name) > tack.MaxNameBytes || *got.Name == "" || !utf8.ValidString(*got.Name)) {
			t.Fatalf("name %q", *got.Name)
		}
		if _, err := tack.ParseMatch(string(got.Match)); err != nil {
			t.Fatalf("match %q", got.Match)
		}
		for _, s := range got.Statuses {
			if _, err := tack.ParseStatus(string(s)); err != nil {
				t.Fatalf("status %q", s)
			}
		}
		if got.Statuses == nil && got.Keys == nil && got.Name == nil && got.Meta == nil {
			t.Fatalf("no status filter without cid, name or meta")
		}
		checkMeta(t, got.Meta)
	})
}

func FuzzParsePin(f *testing.F) {
	for _, b := range []string{
		`{"cid":"bafkreidgvpkjawlxz6sffxzwgooowe5yt7i6wsyg236mfoks77nywkptdq","name":"photos","origins":["/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf","/ip6/::1/udp/4001/quic-v1/p2p/12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf"]}`,
		`{"cid":"QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"}`,
		`{"cid":"bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi","name":"policy/12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf/mfs","origins":["/dns4/example.com/tcp/443/wss/p2p/12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf"]}`,
		`{"cid":"bafkreidgvpkjawlxz6sffxzwgooowe5yt7i6wsyg236mfoks77nywkptdq","meta":{"app_id":"99986338-1113-4706-8302-4420da6158aa"}}`,
		`{"cid":"bafkreidgvpkjawlxz6sffxzwgooowe5yt7i6wsyg236mfoks77nywkptdq","meta":{"k":1}}`,
		`{"cid":"/ipns/example.com"}`,
		`{"cid":"k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8"}`,
		`{"cid":null,"name":null,"origins":null,"meta":null}`,
		`[]`,
		``,
	} {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, c, err := tackhttp.ParsePin(body)
		if err != nil {
			mustTackError(t, err, tack.EINVALID, tack.ETOOLARGE)
			return
		}
		if !c.Defined() || !tack.CodecAllowed(c.Prefix().Codec) {
			t.Fatalf("cid %v accepted", c)
		}
		if p.CID == "" {
			t.Fatalf("empty cid string accepted")
		}
		if len(p.Name) > tack.MaxNameBytes || !utf8.ValidString(p.Name) {
			t.Fatalf("name %q", p.Name)
		}
		if len(p.Origins) > tack.MaxOrigins {
			t.Fatalf("%d origins", len(p.Origins))
		}
		checkMeta(t, p.Meta)
	})
}
