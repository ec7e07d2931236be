package migrate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ipfs/boxo/pinning/remote/client/openapi"
	"github.com/ipfs/go-cid"
)

// maxAnswerBytes is the largest answer migrate reads from a service: a
// page of tack.MaxListLimit requests with names, origins and some meta fits
// many times over. A larger answer is refused (errAnswerTooLarge), so a
// hostile source cannot make migrate hold more than this per answer.
const maxAnswerBytes = 8 << 20

// maxRedirects is how many redirects within one origin migrate follows.
const maxRedirects = 10

var (
	// errAnswerTooLarge is a service's answer over maxAnswerBytes.
	errAnswerTooLarge = fmt.Errorf("its answer is larger than %d MiB, the most migrate reads", maxAnswerBytes>>20)
	// errOtherOrigin is a redirect to another scheme, host or port:
	// migrate would send the token there.
	errOtherOrigin = errors.New("it redirects to another origin, which migrate does not follow: give the URL the service answers at")
	// errTooManyResults is a page longer than the limit asked for.
	errTooManyResults = errors.New("it answered more results than the limit asked for")
)

// pinningClient is boxo's generated client of the Pinning Service API
// (boxo's pinclient.Client wraps one but takes no http.Client), over an
// http.Client that bounds what a service can make migrate do: it follows
// redirects within the service's origin only, so the token never goes
// elsewhere, and reads at most maxAnswerBytes of an answer, and at most
// the limit asked for of a page's results.
func pinningClient(url, token string) *openapi.APIClient {
	cfg := openapi.NewConfiguration()
	cfg.UserAgent = "tack-migrate"
	cfg.AddDefaultHeader("Authorization", "Bearer "+token)
	cfg.Servers = openapi.ServerConfigurations{{URL: url}}
	cfg.HTTPClient = &http.Client{
		Transport:     boundedTransport{http.DefaultTransport.(*http.Transport).Clone()},
		CheckRedirect: sameOrigin,
	}
	return openapi.NewAPIClient(cfg)
}

// sameOrigin is the http.Client's CheckRedirect: Go's client drops the
// Authorization header on a redirect to another host name, but not to
// another port or scheme of the same one.
func sameOrigin(req *http.Request, via []*http.Request) error {
	if origin(req.URL) != origin(via[0].URL) {
		return fmt.Errorf("%w (%s to %s)", errOtherOrigin, origin(via[0].URL), origin(req.URL))
	}
	if len(via) >= maxRedirects {
		return fmt.Errorf("it redirected %d times", len(via))
	}
	return nil
}

// origin returns a URL's scheme, host and port, with the scheme's port
// when the URL gives none.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return strings.ToLower(u.Scheme) + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// boundedTransport reads each answer whole before boxo's client does,
// refusing one over maxAnswerBytes, a successful one that is not JSON,
// and a list with more results than its limit: decoding many small
// results takes far more memory than their bytes.
type boundedTransport struct{ base http.RoundTripper }

func (t boundedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.ContentLength > maxAnswerBytes {
		return nil, errAnswerTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxAnswerBytes {
		return nil, errAnswerTooLarge
	}
	if resp.StatusCode/100 == 2 {
		if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
			return nil, fmt.Errorf("its answer is %q, not application/json", resp.Header.Get("Content-Type"))
		}
		if limit, err := strconv.Atoi(req.URL.Query().Get("limit")); err == nil && req.Method == http.MethodGet {
			if err := checkResults(body, limit); err != nil {
				return nil, err
			}
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// checkResults checks that a PinResults object holds at most limit
// results, reading them one at a time into one reused buffer.
func checkResults(body []byte, limit int) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil // not an object: boxo's client says why
	}
	var skip json.RawMessage
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil
		}
		if key != "results" {
			if dec.Decode(&skip) != nil {
				return nil
			}
			continue
		}
		if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
			return nil
		}
		for n := 1; dec.More(); n++ {
			if n > limit {
				return fmt.Errorf("%w (%d)", errTooManyResults, limit)
			}
			if dec.Decode(&skip) != nil {
				return nil
			}
		}
		if _, err := dec.Token(); err != nil {
			return nil
		}
	}
	return nil
}

// statusError is an answer with an HTTP status other than 2xx. boxo's
// client keeps the status line only when the body was a Failure.
type statusError struct {
	code int
	err  error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// withStatus returns err, with the status of resp if it has one.
func withStatus(resp *http.Response, err error) error {
	if err != nil && resp != nil && resp.StatusCode/100 != 2 {
		return &statusError{resp.StatusCode, err}
	}
	return err
}

// listPins asks a service for up to limit requests of the given statuses
// (and CIDs, if any) created before before (unless it is zero), newest
// first, and returns them with the count of all that match.
func listPins(ctx context.Context, api *openapi.APIClient, cids []cid.Cid, statuses []openapi.Status, before time.Time, limit int) ([]openapi.PinStatus, int, error) {
	req := api.PinsApi.PinsGet(ctx).Status(statuses).Limit(int32(limit))
	if len(cids) > 0 {
		s := make([]string, len(cids))
		for i, c := range cids {
			s[i] = c.String()
		}
		req = req.Cid(s)
	}
	if !before.IsZero() {
		req = req.Before(before)
	}
	res, resp, err := req.Execute()
	if err != nil {
		return nil, 0, withStatus(resp, err)
	}
	return res.GetResults(), int(res.GetCount()), nil
}

// addPin asks a service to pin.
func addPin(ctx context.Context, api *openapi.APIClient, pin openapi.Pin) (openapi.PinStatus, error) {
	ps, resp, err := api.PinsApi.PinsPost(ctx).Pin(pin).Execute()
	return ps, withStatus(resp, err)
}
