package pinner

import "testing"

// The window grows with the distinct peers among a DAG's origins: two
// addresses of one peer count once, and an address without a peer ID
// counts as a peer.
func TestOriginPeers(t *testing.T) {
	a := "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWHUy4FsMFWBVeWyfcVcD6Lsp8wWUmTKR5Pwi6yJNuRaDJ"
	a2 := "/ip4/127.0.0.1/udp/4001/quic-v1/p2p/12D3KooWHUy4FsMFWBVeWyfcVcD6Lsp8wWUmTKR5Pwi6yJNuRaDJ"
	b := "/ip4/127.0.0.1/tcp/4002/p2p/12D3KooWNifpb1Ei9R4ZyyuNzqRwF1EgjKohXo5UErBzZ6ZjQMwL"
	for _, tc := range []struct {
		origins []string
		want    int
	}{
		{nil, 0},
		{[]string{a}, 1},
		{[]string{a, a2}, 1},
		{[]string{a, b}, 2},
		{[]string{a, a2, b, "/ip4/10.0.0.1/tcp/4001"}, 3},
	} {
		if got := originPeers(tc.origins); got != tc.want {
			t.Errorf("originPeers(%q) = %d, want %d", tc.origins, got, tc.want)
		}
	}
}
