package gateway

import "testing"

func TestSite(t *testing.T) {
	for host, want := range map[string]string{
		"127.0.0.1":              "127.0.0.1",
		"127.0.0.1:8080":         "127.0.0.1",
		"[::1]:8080":             "::1",
		"::ffff:127.0.0.1":       "127.0.0.1",
		"localhost":              "localhost",
		"bafy.ipfs.localhost":    "localhost",
		"tack.lan":               "lan",
		"Pin.Example.COM.":       "example.com",
		"bafy.ipfs.example.com":  "example.com",
		"example.com":            "example.com",
		"gw.example.co.uk":       "example.co.uk",
		"alice.github.io":        "alice.github.io",
		"bafy.ipfs.dweb.link":    "bafy.ipfs.dweb.link", // *.dweb.link is on the list
		"com":                    "com",
		"bafy.ipfs.gw.localhost": "localhost",
	} {
		if got := Site(host); got != want {
			t.Errorf("Site(%q) = %q, want %q", host, got, want)
		}
	}
}

func TestOriginServes(t *testing.T) {
	sub := &Origin{Host: "localhost", Subdomains: true}
	path := &Origin{Host: "gw.example.net"}
	for _, tc := range []struct {
		o    *Origin
		host string
		want bool
	}{
		{sub, "localhost:8081", true},
		{sub, "bafkqaaa.ipfs.localhost:8081", true},
		{sub, "BAFKQAAA.IPFS.LOCALHOST", true},
		{sub, "127.0.0.1:8081", false},
		{sub, "a.b.ipfs.localhost", false},
		{sub, ".ipfs.localhost", false},
		{sub, "bafkqaaa.ipns.localhost", false},
		{sub, "evil-localhost", false},
		{path, "gw.example.net", true},
		{path, "bafkqaaa.ipfs.gw.example.net", false},
		{path, "pin.example.com", false},
	} {
		if got := tc.o.serves(tc.host); got != tc.want {
			t.Errorf("%+v serves %q: %v, want %v", *tc.o, tc.host, got, tc.want)
		}
	}
}
