package gateway

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/ipfs/boxo/gateway"
	"golang.org/x/net/publicsuffix"
)

// Origin is where browsers reach the gateway that serves deserialized
// content (files, directory listings, HTML documents), which must be a
// site of its own: a page it serves runs scripts with the rights of its
// origin, and can set cookies for every host of its site, port aside
// (RFC 6265 8.5: cookies do not isolate by port).
//
// With Subdomains, as Kubo's subdomain gateway and dweb.link do, each CID
// is served on an origin of its own, {cid}.ipfs.{Host} with the CID in
// case-insensitive base32 (base36 if that is too long for a DNS label),
// and a request for /ipfs/{cid}/… on Host is redirected there: the pages
// of one CID cannot read another's storage or script its windows.
// Without Subdomains (the path gateway) every CID shares the origin of
// Host, which still must be a site apart from the web pages'.
//
// Requests whose host is neither Host nor, with Subdomains, one of its
// {cid}.ipfs. names are answered 404: content is never rendered under a
// name the operator did not choose for it, such as the web pages' host
// name at the gateway's port.
type Origin struct {
	// Host is the gateway's public host name, lower case, without a port.
	Host string
	// Subdomains serves each CID on {cid}.ipfs.Host.
	Subdomains bool
	// HTTPS says that browsers reach the gateway over https (through a
	// TLS proxy): redirects name https even if the proxy does not say so
	// in X-Forwarded-Proto.
	HTTPS bool
	// TrustedProxies are the reverse proxies whose X-Forwarded-Host names
	// the host a request was for; from anyone else the header is dropped,
	// so that a request for one host is always answered as that host
	// (boxo would otherwise answer for the header's host, with a redirect
	// there, which a cache in front keyed by Host would keep for the
	// first), and a host the gateway does not serve gets 404.
	TrustedProxies []netip.Prefix
}

// Gateway modes, for ParseOrigin.
const (
	ModeSubdomain = "subdomain"
	ModePath      = "path"
)

// ParseOrigin returns the Origin of a gateway that browsers reach at
// rawURL, http:// or https:// and a host, optionally a port, and no path.
// mode is ModeSubdomain, ModePath or "" for the default: subdomains when
// the host is a name, paths when it is an IP address (which has no
// subdomains).
func ParseOrigin(rawURL, mode string) (*Origin, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL: %w", rawURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.User != nil || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q must be http://HOST[:PORT] or https://HOST[:PORT], without a path", rawURL)
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" {
		return nil, fmt.Errorf("%q names no host", rawURL)
	}
	addr, addrErr := netip.ParseAddr(host)
	isIP := addrErr == nil
	if isIP && addr.IsUnspecified() {
		return nil, fmt.Errorf("%q names no host that browsers can reach (%s is every address)", rawURL, host)
	}
	o := &Origin{Host: host, HTTPS: u.Scheme == "https"}
	switch mode {
	case "":
		o.Subdomains = !isIP
	case ModeSubdomain:
		if isIP {
			return nil, fmt.Errorf("a subdomain gateway needs a host name, not the IP address %s: {cid}.ipfs.%s is no name", host, host)
		}
		o.Subdomains = true
	case ModePath:
	default:
		return nil, fmt.Errorf("the gateway mode must be %s or %s, not %q", ModeSubdomain, ModePath, mode)
	}
	return o, nil
}

// ContentHost returns the host name that serves root (a CID's text) to
// browsers; with Subdomains root must already be its DNS label (CIDv1,
// base32).
func (o *Origin) ContentHost(root string) string {
	if o.Subdomains {
		return root + ".ipfs." + o.Host
	}
	return o.Host
}

// Apart returns an error if the pages this gateway serves would share a
// site with the web pages, reached at the host webHost: then they could
// set cookies that the web pages take for their own (a session, signing
// the visitor in as someone else), and a browser would count their forms
// and requests as same-site. The rule is Site(content host) !=
// Site(webHost), for every host the gateway serves content on.
//
// So the gateway may not be on the web pages' host (whatever the ports),
// nor on a parent, a subdomain or a sibling of it under one registrable
// domain: pin.example.com with gateway.example.com is refused, while
// pin.example.com with example-gateway.net is allowed, as are 127.0.0.1
// (web pages) with localhost (a subdomain gateway, {cid}.ipfs.localhost,
// which browsers resolve to loopback), for local use.
func (o *Origin) Apart(webHost string) error {
	content := o.ContentHost("bafkqaaa") // the empty identity CID: any CID's host has its site
	web, gw := Site(webHost), Site(content)
	if web != gw {
		return nil
	}
	where := "the web pages' host " + webHost
	if strings.TrimSuffix(strings.ToLower(webHost), ".") != web {
		where = "the web pages' host " + webHost + ", whose site is " + web
	}
	if o.Subdomains {
		return fmt.Errorf("the gateway's content, at {cid}.ipfs.%s, would share the site %s with %s: a page it serves could set the web pages' cookies and sign visitors in as someone else; give the gateway a domain of its own", o.Host, gw, where)
	}
	return fmt.Errorf("the gateway at %s would share the site %s with %s (cookies are not kept apart by port): a page it serves could set the web pages' cookies and sign visitors in as someone else; give the gateway a host name of its own", o.Host, gw, where)
}

// Site returns the site of a host as far as cookies go: the set of hosts
// whose pages can set cookies for one another. It is the host itself for
// an IP address (cookies of an address are its own); for a name, its
// registrable domain by the Public Suffix List (a public suffix and one
// label more: pin.example.com is of example.com, x.github.io of itself),
// and a name that is a public suffix itself stands alone. A name under a
// top-level domain that the list does not know (localhost, test, lan,
// internal, …) is taken to be of that top-level domain, whole: browsers
// differ on whether its pages may set cookies for it.
func Site(host string) string {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if addr, err := netip.ParseAddr(host); err == nil {
		return addr.Unmap().String()
	}
	suffix, icann := publicsuffix.PublicSuffix(host)
	if !icann && !strings.Contains(suffix, ".") {
		// The list's default rule: a top-level domain it does not name.
		return suffix
	}
	site, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil {
		return host // a public suffix itself
	}
	return site
}

// serves says whether the gateway serves content for requests to host
// (a Host header, perhaps with a port).
func (o *Origin) serves(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == o.Host {
		return true
	}
	label, ok := strings.CutSuffix(host, ".ipfs."+o.Host)
	return o.Subdomains && ok && label != "" && !strings.Contains(label, ".")
}

// trusted says whether a request from remoteAddr (host:port) comes from
// one of TrustedProxies.
func (o *Origin) trusted(remoteAddr string) bool {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	for _, p := range o.TrustedProxies {
		if p.Contains(ap.Addr().Unmap()) {
			return true
		}
	}
	return false
}

// handler wraps next, boxo's gateway handler made with conf over backend,
// in boxo's hostname handler (NewHostnameHandler), configured with the
// one public gateway o: on Host, /ipfs/{cid}/… is redirected to
// {cid}.ipfs.Host with Subdomains and served as a path otherwise; on
// {cid}.ipfs.Host, the CID's content is served from /. No DNSLink is
// looked up. Requests for any other host get 404.
func (o *Origin) handler(conf gateway.Config, backend gateway.IPFSBackend, next http.Handler) http.Handler {
	conf.NoDNSLink = true
	conf.PublicGateways = map[string]*gateway.PublicGateway{o.Host: {
		Paths:                 []string{"/ipfs"},
		UseSubdomains:         o.Subdomains,
		NoDNSLink:             true,
		DeserializedResponses: conf.DeserializedResponses,
	}}
	hostnames := gateway.NewHostnameHandler(conf, backend, next)
	where := o.Host + "/ipfs/{cid}"
	if o.Subdomains {
		where = "{cid}.ipfs." + o.Host
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The host boxo goes by: a trusted proxy's X-Forwarded-Host,
		// else Host. A browser sends no X-Forwarded-Host when it
		// navigates, so a page is rendered only under the host in its
		// address bar.
		host := r.Host
		if x := r.Header.Get("X-Forwarded-Host"); x != "" && o.trusted(r.RemoteAddr) {
			host = x
		} else {
			r.Header.Del("X-Forwarded-Host")
		}
		if !o.serves(host) {
			http.Error(w, "404 page not found: this gateway serves content only at "+where, http.StatusNotFound)
			return
		}
		if o.HTTPS {
			r.Header.Set("X-Forwarded-Proto", "https")
		}
		hostnames.ServeHTTP(w, r)
	})
}
