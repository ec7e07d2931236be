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

	// DefaultReadTimeout bounds a block's read from the bucket, retries
	// included. A ranged GET of one block takes milliseconds; 15 seconds
	// rides out a slow request or two, and ends a read from a bucket that
	// does not answer well before a client would give up on it.
	DefaultReadTimeout = 15 * time.Second
	// DefaultWriteTimeout bounds each request that uploads a pack (or
	// reads or deletes a whole one, for compaction): a 16 MiB pack needs
	// 280 KB/s to make it.
	DefaultWriteTimeout = time.Minute
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

	// ReadTimeout bounds reading a block from the bucket: each attempt
	// gets a third of it, and a failed attempt is retried after a short,
	// growing delay while time is left; then the read fails. Reads of the
	// blocks that the cache or the open pack hold never wait for the
	// bucket. 0: DefaultReadTimeout.
	ReadTimeout time.Duration
	// WriteTimeout bounds each request that uploads a pack, or that
	// compaction makes of a whole pack. An upload that runs out is logged
	// as stalled and retried with a growing delay (up to 30 seconds) until
	// it succeeds: the blocks stay in memory, and readable, meanwhile.
	// 0: DefaultWriteTimeout.
	WriteTimeout time.Duration

	// Log receives the store's log lines (failed uploads, listings and
	// compactions); nil: slog.Default() as it is when the store opens.
	Log *slog.Logger
}

// ParseURL reads a --blocks URL,
// s3://bucket[/prefix][?endpoint=URL&region=R&read-timeout=D&write-timeout=D].
// The endpoint defaults to https://s3.amazonaws.com; http is allowed, for
// a server on the local network. read-timeout and write-timeout set
// ReadTimeout and WriteTimeout, as Go durations (15s, 1m). Credentials are
// not part of it: see CredentialsFromEnv.
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
		case "read-timeout", "write-timeout":
			d, err := time.ParseDuration(v[0])
			if err != nil || d < 100*time.Millisecond {
				return o, fmt.Errorf("blocks URL %q: %s must be a duration of at least 100ms, such as 15s or 1m, not %q", s, k, v[0])
			}
			if k == "read-timeout" {
				o.ReadTimeout = d
			} else {
				o.WriteTimeout = d
			}
		default:
			return o, fmt.Errorf("blocks URL %q: unknown parameter %q (endpoint, region, read-timeout and write-timeout are known)", s, k)
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
