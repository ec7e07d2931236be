package node

import (
	"net/netip"

	"github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// isPublicAddr reports whether a multiaddr leads to the public internet:
// its first component is a public IP address (see publicIP), or a DNS
// name that is not for local use (.localhost, .local, .home.arpa, …; the
// addresses it resolves to are checked again when the node dials them).
// Anything else, an IPv6 zone included, is not public.
func isPublicAddr(a multiaddr.Multiaddr) bool {
	c, _ := multiaddr.SplitFirst(a)
	if c == nil {
		return false
	}
	switch c.Code() {
	case multiaddr.P_IP4, multiaddr.P_IP6:
		ip, ok := netip.AddrFromSlice(c.RawValue())
		return ok && publicIP(ip)
	case multiaddr.P_DNS, multiaddr.P_DNS4, multiaddr.P_DNS6, multiaddr.P_DNSADDR:
		return manet.IsPublicAddr(a)
	}
	return false
}

// publicIP reports whether ip is a globally reachable unicast address: not
// in a range of IANA's special-purpose address registries that is not
// globally reachable, not multicast, not reserved. An IPv6 address that
// carries an IPv4 address (IPv4-mapped, NAT64, 6to4, Teredo) is public
// only if the IPv4 address is: 64:ff9b::a9fe:a9fe reaches 169.254.169.254
// through any NAT64 gateway on the way.
func publicIP(ip netip.Addr) bool {
	ip = ip.WithZone("")
	if ip.Is4In6() {
		return publicIPv4(ip.Unmap())
	}
	if ip.Is4() {
		return publicIPv4(ip)
	}
	b := ip.As16()
	switch {
	case nat64.Contains(ip):
		return publicIPv4(netip.AddrFrom4([4]byte(b[12:16])))
	case teredo.Contains(ip):
		// RFC 4380: the Teredo server's IPv4 in bits 32–63, the client's
		// (whose NAT the packets go to) in the last 32 bits, inverted.
		client := [4]byte{^b[12], ^b[13], ^b[14], ^b[15]}
		return publicIPv4(netip.AddrFrom4([4]byte(b[4:8]))) && publicIPv4(netip.AddrFrom4(client))
	case sixToFour.Contains(ip):
		// RFC 3056: the IPv4 address in bits 16–47.
		return publicIPv4(netip.AddrFrom4([4]byte(b[2:6])))
	case !globalUnicast6.Contains(ip):
		// Everything outside 2000::/3: ::, ::1, 64:ff9b:1::/48, 100::/64,
		// fc00::/7, fe80::/10, ff00::/8 and space IANA has not allocated.
		return false
	}
	for _, p := range special6 {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// publicIPv4 reports whether an IPv4 address is globally reachable unicast.
func publicIPv4(ip netip.Addr) bool {
	for _, p := range special4 {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

var (
	nat64          = netip.MustParsePrefix("64:ff9b::/96") // RFC 6052, the well-known prefix
	teredo         = netip.MustParsePrefix("2001::/32")    // RFC 4380
	sixToFour      = netip.MustParsePrefix("2002::/16")    // RFC 3056
	globalUnicast6 = netip.MustParsePrefix("2000::/3")
)

// special4 are the IPv4 ranges that are not globally reachable unicast:
// IANA's IPv4 special-purpose address registry, multicast and the
// reserved 240.0.0.0/4. The few anycast services of 192.0.0.0/24 are not
// IPFS peers, so the whole block is refused.
var special4 = prefixes(
	"0.0.0.0/8",          // "this network", RFC 791
	"10.0.0.0/8",         // private use, RFC 1918
	"100.64.0.0/10",      // shared address space (carrier-grade NAT), RFC 6598
	"127.0.0.0/8",        // loopback
	"169.254.0.0/16",     // link local, cloud metadata services
	"172.16.0.0/12",      // private use, RFC 1918
	"192.0.0.0/24",       // IETF protocol assignments: 192.0.0.170 (NAT64 discovery), DS-Lite, …
	"192.0.2.0/24",       // documentation, TEST-NET-1
	"192.88.99.0/24",     // 6to4 relay anycast, deprecated by RFC 7526
	"192.168.0.0/16",     // private use, RFC 1918
	"198.18.0.0/15",      // benchmarking, RFC 2544
	"198.51.100.0/24",    // documentation, TEST-NET-2
	"203.0.113.0/24",     // documentation, TEST-NET-3
	"224.0.0.0/4",        // multicast
	"240.0.0.0/4",        // reserved, RFC 1112
	"255.255.255.255/32", // limited broadcast (inside 240.0.0.0/4, named for clarity)
)

// special6 are the ranges inside 2000::/3 that are not globally reachable
// unicast, from IANA's IPv6 special-purpose address registry; Teredo and
// 6to4 are decided by the IPv4 address they carry before these apply.
var special6 = prefixes(
	"2001::/23",     // IETF protocol assignments, RFC 2928: benchmarking, ORCHID, anycast services
	"2001:db8::/32", // documentation
	"3fff::/20",     // documentation, RFC 9637
)

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}
