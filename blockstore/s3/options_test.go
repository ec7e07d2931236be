package s3_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tack-ipfs/tack/blockstore/s3"
)

func TestParseURL(t *testing.T) {
	env := func(k string) string {
		return map[string]string{"AWS_ACCESS_KEY_ID": "ak", "AWS_SECRET_ACCESS_KEY": "sk", "AWS_SESSION_TOKEN": "st"}[k]
	}
	for _, tt := range []struct {
		url  string
		want s3.Options
		err  string
	}{
		{url: "s3://bucket", want: s3.Options{Endpoint: "s3.amazonaws.com", Secure: true, Bucket: "bucket"}},
		{url: "s3://bucket/some/prefix/?endpoint=http://127.0.0.1:9000&region=eu-west-1",
			want: s3.Options{Endpoint: "127.0.0.1:9000", Region: "eu-west-1", Bucket: "bucket", Prefix: "some/prefix/"}},
		{url: "s3://b/p?endpoint=https://minio.example:443", want: s3.Options{Endpoint: "minio.example:443", Secure: true, Bucket: "b", Prefix: "p/"}},
		{url: "s3://b?read-timeout=2s&write-timeout=3m", want: s3.Options{Endpoint: "s3.amazonaws.com", Secure: true, Bucket: "b", ReadTimeout: 2 * time.Second, WriteTimeout: 3 * time.Minute}},
		{url: "s3://b?read-timeout=soon", err: "read-timeout must be a duration"},
		{url: "s3://b?write-timeout=1ms", err: "write-timeout must be a duration of at least 100ms"},
		{url: "http://bucket", err: "scheme must be s3"},
		{url: "s3:///prefix", err: "no bucket"},
		{url: "s3://bucket?endpoint=ftp://x", err: "endpoint must be"},
		{url: "s3://bucket?endpoint=127.0.0.1:9000", err: "endpoint must be"},
		{url: "s3://bucket?color=red", err: "unknown parameter"},
		{url: "s3://key:secret@bucket", err: "not the URL"},
		{url: "s3://bu cket%zz", err: "blocks URL"},
	} {
		got, err := s3.ParseURL(tt.url)
		if err == nil {
			err = got.CredentialsFromEnv(env)
		}
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseURL(%q): error %v, want one with %q", tt.url, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tt.url, err)
			continue
		}
		tt.want.AccessKey, tt.want.SecretKey, tt.want.SessionToken = "ak", "sk", "st"
		if got != tt.want {
			t.Errorf("ParseURL(%q):\n got %+v\nwant %+v", tt.url, got, tt.want)
		}
	}
	o, _ := s3.ParseURL("s3://bucket")
	if err := o.CredentialsFromEnv(func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Errorf("CredentialsFromEnv without credentials: %v", err)
	}
}
