package http_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/tack-ipfs/tack"
	tackhttp "github.com/tack-ipfs/tack/http"
	"github.com/tack-ipfs/tack/internal/cartest"
)

// FuzzUploadCAR posts any bytes as a CAR to a real server: the answer is
// 200 or an error the client caused, never a 500, and a refused upload
// leaves no request.
//
//	go test ./http -run '^$' -fuzz FuzzUploadCAR -fuzztime 60s
func FuzzUploadCAR(f *testing.F) {
	root, all := cartest.DAG(f, 3, 40)
	good := cartest.CAR(f, []cid.Cid{root.Cid()}, all...)
	f.Add(good)
	f.Add(good[:len(good)-7])
	f.Add(cartest.CAR(f, []cid.Cid{root.Cid()}, all[:2]...))
	f.Add(cartest.CAR(f, nil, all...))
	f.Add(cartest.Header(f, root.Cid()))
	f.Add(append(cartest.CAR(f, []cid.Cid{root.Cid()}, all[0]), cartest.Section(all[1].Cid(), []byte("x"))...))
	f.Add([]byte{})
	e := newCAREnv(f, func(s *tackhttp.Server) {
		s.MaxUpload = 1 << 20
		s.RateLimit = tackhttp.RateLimit{Rate: 1e9, Burst: 1e9}
	})
	acct, token := e.MustAccount(f, "fuzz@example.com", tack.AccessApproved)
	f.Fuzz(func(t *testing.T, body []byte) {
		before := len(e.MustPins(t, acct))
		r := e.upload(t, token, "", bytes.NewReader(body))
		switch r.status {
		case http.StatusOK:
			MustResults(t, response{status: r.status, body: r.body})
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusConflict:
			MustFailure(t, r, r.status, map[int]string{400: "BAD_REQUEST", 413: "PAYLOAD_TOO_LARGE", 409: "INSUFFICIENT_FUNDS"}[r.status])
			if after := len(e.MustPins(t, acct)); after != before {
				t.Fatalf("a refused upload (%s) made %d requests", r.body, after-before)
			}
		default:
			t.Fatalf("got %d %s", r.status, r.body)
		}
	})
}
