package http

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// ParseTrustedProxies parses the addresses of reverse proxies whose
// X-Forwarded-For is believed: CIDR prefixes or single addresses, separated
// by commas, such as "127.0.0.1/32,10.0.0.0/8,::1". "" and "none" are none.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	if s = strings.TrimSpace(s); s == "" || strings.EqualFold(s, "none") {
		return nil, nil
	}
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			a, aerr := netip.ParseAddr(part)
			if aerr != nil || a.Zone() != "" {
				return nil, fmt.Errorf("%q is not an IP address or a CIDR prefix such as 127.0.0.1/32 or 10.0.0.0/8", part)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(0, p.Bits()-96))
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// trustedProxy says whether a is one of the reverse proxies in
// TrustedProxies.
func (web *Web) trustedProxy(a netip.Addr) bool {
	for _, p := range web.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr returns the browser's address. It is the peer's, unless the
// peer is one of TrustedProxies: then it is the right-most address in
// X-Forwarded-For that is not itself a trusted proxy. Each proxy appends
// the address it got the request from, so the entries left of that one
// were written by the browser and may be made up; if every entry is a
// trusted proxy, the left-most is the client. An entry that is not an
// address ends the walk at the proxy that wrote it. The result is invalid
// only if the peer's address is.
func (web *Web) clientAddr(r *http.Request) netip.Addr {
	peer := parseHop(r.RemoteAddr)
	if !peer.IsValid() || !web.trustedProxy(peer) {
		return peer
	}
	client := peer
	values := r.Header.Values("X-Forwarded-For")
	for i := len(values) - 1; i >= 0; i-- {
		hops := strings.Split(values[i], ",")
		for j := len(hops) - 1; j >= 0; j-- {
			a := parseHop(hops[j])
			if !a.IsValid() {
				return client
			}
			client = a
			if !web.trustedProxy(a) {
				return a
			}
		}
	}
	return client
}

// parseHop parses an address as RemoteAddr and X-Forwarded-For write it:
// "203.0.113.7", "203.0.113.7:4711", "2001:db8::1", "[2001:db8::1]:443".
// IPv4-mapped IPv6 addresses come back as IPv4, without a zone.
func parseHop(s string) netip.Addr {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone("")
}

// clientKey is the rate limits' name of the request's client: an IPv4
// address (IPv4-mapped IPv6 included) by itself, an IPv6 address by its
// /64. A subscriber usually gets a whole /64 and can use any address in
// it, so counting single IPv6 addresses would give one client 2^64
// buckets.
func (web *Web) clientKey(r *http.Request) string {
	a := web.clientAddr(r)
	switch {
	case !a.IsValid():
		return r.RemoteAddr
	case a.Is4():
		return a.String()
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}
