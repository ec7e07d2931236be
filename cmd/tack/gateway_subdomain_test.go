package main

import (
	"bytes"
	"context"
	"io"
	"net"
	nethttp "net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
)

// hostClient returns an HTTP client that connects to addr whatever host a
// URL names, as DNS pointing HOST and *.ipfs.HOST at tack would, and that
// does not follow redirects.
func hostClient(addr string) *nethttp.Client {
	return &nethttp.Client{
		Transport: &nethttp.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}},
		CheckRedirect: func(*nethttp.Request, []*nethttp.Request) error { return nethttp.ErrUseLastResponse },
	}
}

// fetch GETs url with c and returns the response with its body read.
func fetch(t *testing.T, c *nethttp.Client, url string, headers ...string) (*nethttp.Response, []byte) {
	t.Helper()
	req, err := nethttp.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// The subdomain gateway (--gateway-url http://localhost:PORT, subdomain by
// default for a host name): /ipfs/{cid}/… on the gateway's host redirects
// to {cid}.ipfs.localhost (CIDv1, base32), which serves the CID's content
// from /; another CID's path under that origin is not found; and no other
// host name, the listen address's included, gets any content.
func TestGatewaySubdomains(t *testing.T) {
	t.Parallel()
	g := openGateway(t, func(c *Config) { c.GatewayListen, c.GatewayURL = "127.0.0.1:0", "http://localhost:8081" })
	_, port, _ := net.SplitHostPort(g.m.GatewayAddr())
	c := hostClient(g.m.GatewayAddr())
	s := g.subdir
	label := cid.NewCidV1(s.root.Type(), s.root.Hash()).String()
	origin := "http://" + label + ".ipfs.localhost:" + port

	for _, root := range []cid.Cid{s.root, cid.NewCidV0(s.root.Hash())} {
		resp, _ := fetch(t, c, "http://localhost:"+port+"/ipfs/"+root.String()+"/subdir/ascii.txt?filename=a.txt")
		mustStatus(t, resp, 301)
		if got, want := resp.Header.Get("Location"), origin+"/subdir/ascii.txt?filename=a.txt"; got != want {
			t.Errorf("/ipfs/%s/… on the gateway's host: redirected to %q, want %q", root, got, want)
		}
	}
	// Behind a TLS proxy that says so, the redirect is to https.
	resp, _ := fetch(t, c, "http://localhost:"+port+"/ipfs/"+s.root.String()+"/", "X-Forwarded-Proto: https")
	if got, want := resp.Header.Get("Location"), "https://"+label+".ipfs.localhost:"+port+"/"; got != want {
		t.Errorf("redirect behind https: %q, want %q", got, want)
	}

	resp, body := fetch(t, c, origin+"/subdir/ascii.txt")
	mustStatus(t, resp, 200)
	if !bytes.Equal(body, s.asciiData) {
		t.Errorf("file on the CID's origin: %q, want %q", body, s.asciiData)
	}
	resp, body = fetch(t, c, origin+"/subdir/", "Accept: text/html")
	mustStatus(t, resp, 200)
	if !strings.Contains(string(body), "multiblock.txt") {
		t.Error("the directory listing on the CID's origin lacks multiblock.txt")
	}
	// Another CID under this CID's origin: a path inside this one, which
	// does not exist.
	resp, body = fetch(t, c, origin+"/ipfs/"+s.ascii.String())
	if resp.StatusCode != 404 || bytes.Contains(body, s.asciiData) {
		t.Errorf("/ipfs/{another cid} on a CID's origin: %d %q, want 404", resp.StatusCode, body)
	}
	// The gateway's own host serves nothing but redirects.
	for _, p := range []string{"/", "/signin", "/pins"} {
		if resp, _ := fetch(t, c, "http://localhost:"+port+p); resp.StatusCode != 404 {
			t.Errorf("%s on the gateway's host: %d, want 404", p, resp.StatusCode)
		}
	}
	// No other host: not the address the gateway listens on, not the web
	// pages' host, not a name the operator did not give, not a CID's host
	// under another namespace.
	for _, host := range []string{g.m.GatewayAddr(), "127.0.0.1:8080", "pin.example.com", label + ".ipns.localhost:" + port, "x." + label + ".ipfs.localhost:" + port} {
		for _, p := range []string{"/ipfs/" + s.root.String() + "/subdir/ascii.txt", "/subdir/ascii.txt"} {
			resp, body := fetch(t, c, "http://"+host+p)
			if resp.StatusCode != 404 || bytes.Contains(body, s.asciiData) {
				t.Errorf("http://%s%s: %d %q, want 404", host, p, resp.StatusCode, body)
			}
		}
	}
}

// X-Forwarded-Host names the host only from --trusted-proxies: from
// anyone else it is dropped, so that a request for one host (a CID's
// origin, or a host the gateway does not serve) is answered as that host,
// never with boxo's answer for another (a redirect there, which a cache in
// front keyed by Host would keep for the first). Before, both requests
// below were 301s to the header's host.
func TestGatewayForwardedHost(t *testing.T) {
	t.Parallel()
	for _, trusted := range []bool{false, true} {
		g := openGateway(t, func(c *Config) {
			c.GatewayListen, c.GatewayURL = "127.0.0.1:0", "http://localhost"
			if trusted {
				c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
			}
		})
		c := hostClient(g.m.GatewayAddr())
		s := g.subdir
		ascii := cid.NewCidV1(s.ascii.Type(), s.ascii.Hash()).String() + ".ipfs.localhost"
		root := cid.NewCidV1(s.root.Type(), s.root.Hash()).String() + ".ipfs.localhost"
		// The listen address is no host the gateway serves, unless a
		// trusted proxy names one (boxo then redirects to the name, as it
		// does whenever Host is not the CID's: proxies keep Host).
		resp, body := fetch(t, c, "http://"+g.m.GatewayAddr()+"/", "X-Forwarded-Host: "+ascii)
		if trusted && resp.StatusCode == 404 {
			t.Errorf("X-Forwarded-Host %s from a trusted proxy: 404", ascii)
		}
		if !trusted && (resp.StatusCode != 404 || bytes.Contains(body, s.asciiData)) {
			t.Errorf("X-Forwarded-Host %s from anyone on the listen address: %d %q, want 404", ascii, resp.StatusCode, body)
		}
		if !trusted {
			// One CID's host, naming another's: its own content.
			resp, body = fetch(t, c, "http://"+root+"/subdir/ascii.txt", "X-Forwarded-Host: "+ascii)
			if resp.StatusCode != 200 || !bytes.Equal(body, s.asciiData) {
				t.Errorf("X-Forwarded-Host %s from anyone on %s: %d %q, want that host's own file", ascii, root, resp.StatusCode, body)
			}
		}
	}
}
