package node_test

import (
	"testing"

	"github.com/multiformats/go-multiaddr"

	"github.com/tack-ipfs/tack/node"
)

// TestDialable covers every special-purpose range, the first and last
// address of each where it matters, and IPv4 addresses carried inside IPv6
// addresses (mapped, NAT64, 6to4, Teredo): an origin or a peer at any of
// them is dialled only with AllowPrivateOrigins.
func TestDialable(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		addr   string
		public bool
	}{
		// Public IPv4 and IPv6.
		{"/ip4/8.8.8.8/tcp/4001", true},
		{"/ip4/1.1.1.1/udp/4001/quic-v1", true},
		{"/ip4/9.255.255.255/tcp/1", true},   // just below 10.0.0.0/8
		{"/ip4/11.0.0.0/tcp/1", true},        // just above it
		{"/ip4/100.63.255.255/tcp/1", true},  // just below 100.64.0.0/10
		{"/ip4/100.128.0.0/tcp/1", true},     // just above it
		{"/ip4/172.15.255.255/tcp/1", true},  // just below 172.16.0.0/12
		{"/ip4/172.32.0.0/tcp/1", true},      // just above it
		{"/ip4/192.0.1.255/tcp/1", true},     // between 192.0.0.0/24 and 192.0.2.0/24
		{"/ip4/192.0.3.0/tcp/1", true},       // just above 192.0.2.0/24
		{"/ip4/198.17.255.255/tcp/1", true},  // just below 198.18.0.0/15
		{"/ip4/198.20.0.0/tcp/1", true},      // just above it
		{"/ip4/223.255.255.255/tcp/1", true}, // just below multicast
		{"/ip6/2606:4700:4700::1111/tcp/4001", true},
		{"/ip6/2a00:1450:4001::1/udp/4001/quic-v1", true},
		{"/ip6/2001:200::1/tcp/1", true}, // just above 2001::/23
		{"/ip6/2001:db7:ffff::1/tcp/1", true},
		{"/ip6/2001:db9::1/tcp/1", true},
		{"/ip6/3ffe::1/tcp/1", true},      // just below 3fff::/20
		{"/ip6/3fff:1000::1/tcp/1", true}, // just above it
		{"/dns4/example.com/tcp/4001", true},
		{"/dnsaddr/bootstrap.libp2p.io", true},

		// IANA IPv4 special-purpose registry, multicast, reserved.
		{"/ip4/0.0.0.0/tcp/1", false},
		{"/ip4/0.255.255.255/tcp/1", false},
		{"/ip4/10.0.0.1/tcp/1", false},
		{"/ip4/10.255.255.255/tcp/1", false},
		{"/ip4/100.64.0.1/tcp/1", false},
		{"/ip4/100.127.255.255/tcp/1", false},
		{"/ip4/127.0.0.1/tcp/1", false},
		{"/ip4/127.255.255.254/tcp/1", false},
		{"/ip4/169.254.169.254/tcp/80", false},
		{"/ip4/172.16.0.1/tcp/1", false},
		{"/ip4/172.31.255.255/tcp/1", false},
		{"/ip4/192.0.0.1/tcp/1", false},
		{"/ip4/192.0.0.170/tcp/1", false},
		{"/ip4/192.0.0.171/tcp/1", false},
		{"/ip4/192.0.0.255/tcp/1", false},
		{"/ip4/192.0.2.1/tcp/1", false},
		{"/ip4/192.88.99.1/tcp/1", false},
		{"/ip4/192.168.1.1/tcp/1", false},
		{"/ip4/198.18.0.1/tcp/1", false},
		{"/ip4/198.19.255.255/tcp/1", false},
		{"/ip4/198.51.100.7/tcp/1", false},
		{"/ip4/203.0.113.7/tcp/1", false},
		{"/ip4/224.0.0.1/tcp/1", false},
		{"/ip4/239.255.255.255/tcp/1", false},
		{"/ip4/240.0.0.1/tcp/1", false},
		{"/ip4/255.255.255.255/tcp/1", false},

		// IANA IPv6 special-purpose registry and space outside 2000::/3.
		{"/ip6/::/tcp/1", false},
		{"/ip6/::1/tcp/1", false},
		{"/ip6/::a9fe:a9fe/tcp/1", false}, // IPv4-compatible, deprecated
		{"/ip6/100::1/tcp/1", false},      // discard-only
		{"/ip6/2001::/tcp/1", false},      // Teredo without a public IPv4
		{"/ip6/2001:2::1/tcp/1", false},   // benchmarking
		{"/ip6/2001:1ff:ffff::1/tcp/1", false},
		{"/ip6/2001:db8::1/tcp/1", false},
		{"/ip6/2001:db8:ffff:ffff:ffff:ffff:ffff:ffff/tcp/1", false},
		{"/ip6/3fff::1/tcp/1", false},
		{"/ip6/3fff:fff::1/tcp/1", false},
		{"/ip6/5f00::1/tcp/1", false}, // SRv6 SIDs, outside 2000::/3
		{"/ip6/fc00::1/tcp/1", false},
		{"/ip6/fd12:3456::1/tcp/1", false},
		{"/ip6/fe80::1/tcp/1", false},
		{"/ip6/febf:ffff::1/tcp/1", false},
		{"/ip6/fec0::1/tcp/1", false}, // site-local, deprecated
		{"/ip6/ff02::1/tcp/1", false},
		{"/ip6zone/eth0/ip6/fe80::1/tcp/1", false},
		{"/ip6/64:ff9b:1::a9fe:a9fe/tcp/1", false}, // local-use NAT64: the operator's own translator
		{"/ip6/64:ff9b:1::808:808/tcp/1", false},
		{"/dns4/localhost/tcp/1", false},
		{"/dns/printer.local/tcp/1", false},
		{"/unix/tmp/sock", false},

		// IPv4 inside IPv6: the IPv4 address decides.
		{"/ip6/::ffff:8.8.8.8/tcp/1", true},
		{"/ip6/::ffff:127.0.0.1/tcp/1", false},
		{"/ip6/::ffff:169.254.169.254/tcp/1", false},
		{"/ip6/::ffff:10.0.0.1/tcp/1", false},
		{"/ip6/64:ff9b::808:808/tcp/1", true},           // NAT64 of 8.8.8.8
		{"/ip6/64:ff9b::a9fe:a9fe/tcp/1", false},        // NAT64 of 169.254.169.254
		{"/ip6/64:ff9b::7f00:1/tcp/1", false},           // NAT64 of 127.0.0.1
		{"/ip6/64:ff9b::c0a8:101/tcp/1", false},         // NAT64 of 192.168.1.1
		{"/ip6/64:ff9b::c000:aa/tcp/1", false},          // NAT64 of 192.0.0.170
		{"/ip6/2002:808:808::1/tcp/1", true},            // 6to4 of 8.8.8.8
		{"/ip6/2002:a9fe:a9fe::1/tcp/1", false},         // 6to4 of 169.254.169.254
		{"/ip6/2002:a00:1::1/tcp/1", false},             // 6to4 of 10.0.0.1
		{"/ip6/2002:7f00:1::/tcp/1", false},             // 6to4 of 127.0.0.1
		{"/ip6/2002:c000:2ff::1/tcp/1", false},          // 6to4 of 192.0.2.255
		{"/ip6/2001:0:808:808::f7f7:f7f7/tcp/1", true},  // Teredo: server 8.8.8.8, client 8.8.8.8
		{"/ip6/2001:0:808:808::5601:5601/tcp/1", false}, // client 169.254.169.254
		{"/ip6/2001:0:808:808::80ff:fffe/tcp/1", false}, // client 127.0.0.1
		{"/ip6/2001:0:808:808::3f57:fefe/tcp/1", false}, // client 192.168.1.1
		{"/ip6/2001:0:a00:1::f7f7:f7f7/tcp/1", false},   // server 10.0.0.1
	} {
		a, err := multiaddr.NewMultiaddr(tt.addr)
		if err != nil {
			t.Fatalf("%s: %v", tt.addr, err)
		}
		if got := node.Dialable(a, false); got != tt.public {
			t.Errorf("dialable(%s) = %v, want %v", tt.addr, got, tt.public)
		}
		if !node.Dialable(a, true) {
			t.Errorf("dialable(%s) with private origins allowed = false, want true", tt.addr)
		}
	}
}
