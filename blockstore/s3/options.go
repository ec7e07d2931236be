package s3

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tack-ipfs/tack/blockstore"
)

// Defaults of Options.
const (
	DefaultPackSize   = 16 << 20
	DefaultFlushAfter = 2 * time.Second
	DefaultUploads    = 4
)

// Options configure a Store.
type Options struct {
	Endpoint     string // host[:port] of the S3 API
	Secure       bool   // https, not http
	Region       string // empty: the server's default
	Bucket       string
	Prefix       string // object keys start with it; "" or ending in "/"
	AccessKey    string
	SecretKey    string
	SessionToken string

	// Transport carries the requests; nil: minio-go's default.
	Transport http.RoundTripper

	Index blockstore.PackIndex // required
	Cache *blockstore.Cache    // nil: no local cache

	PackSize   int64         // a pack is uploaded once it holds this many bytes; 0: DefaultPackSize
	FlushAfter time.Duration // and at the latest this long after its first block; 0: DefaultFlushAfter
	Uploads    int           // packs uploaded at once; 0: DefaultUploads

	// Log receives the store's log lines (failed uploads, listings and
	// compactions); nil: slog.Default() as it is when the store opens.
	Log *slog.Logger
}

// ParseURL reads a --blocks URL, s3://bucket[/prefix][?endpoint=URL&region=R].
// The endpoint defaults to https://s3.amazonaws.com; http is allowed, for
// a server on the local network. Credentials are not part of it: see
// CredentialsFromEnv.
func ParseURL(s string) (Options, error) {
	var o Options
	u, err := url.Parse(s)
	if err != nil {
		return o, fmt.Errorf("blocks URL: %w", err)
	}
	if u.Scheme != "s3" {
		return o, fmt.Errorf("blocks URL %q: the scheme must be s3 (s3://bucket/prefix?endpoint=…)", s)
	}
	if u.Host == "" {
		return o, fmt.Errorf("blocks URL %q: no bucket (s3://bucket/prefix?endpoint=…)", s)
	}
	if u.User != nil {
		return o, fmt.Errorf("blocks URL %q: credentials go in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, not the URL", s)
	}
	o.Bucket = u.Host
	if p := strings.Trim(u.Path, "/"); p != "" {
		o.Prefix = p + "/"
	}
	endpoint := "https://s3.amazonaws.com"
	for k, v := range u.Query() {
		switch k {
		case "endpoint":
			endpoint = v[0]
		case "region":
			o.Region = v[0]
		default:
			return o, fmt.Errorf("blocks URL %q: unknown parameter %q (endpoint and region are known)", s, k)
		}
	}
	e, err := url.Parse(endpoint)
	if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" || (e.Path != "" && e.Path != "/") {
		return o, fmt.Errorf("blocks URL %q: endpoint must be http://host[:port] or https://host[:port], not %q", s, endpoint)
	}
	o.Endpoint, o.Secure = e.Host, e.Scheme == "https"
	return o, nil
}

// CredentialsFromEnv sets the credentials from AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (optional), as the AWS
// tools read them.
func (o *Options) CredentialsFromEnv(getenv func(string) string) error {
	o.AccessKey, o.SecretKey, o.SessionToken = getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"), getenv("AWS_SESSION_TOKEN")
	if o.AccessKey == "" || o.SecretKey == "" {
		return errors.New("S3 blockstore: set the credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	return nil
}
