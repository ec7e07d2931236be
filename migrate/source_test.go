package migrate

import (
	"strings"
	"testing"
)

func TestParsePinLine(t *testing.T) {
	const c = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
	for _, tt := range []struct {
		line, name, reason string
		outcome            outcome
		blank              bool
	}{
		{line: c},
		{line: c + " recursive"},
		{line: c + " direct"},
		{line: "/ipfs/" + c},
		{line: c + " recursive my photos", name: "my photos"},
		{line: c + "\tmy photos\t", name: "my photos"},
		{line: c + " my photos recursive", name: "my photos"},
		{line: c + " recursive recursive", name: "recursive"},
		{line: c + " indirect", outcome: skipped, reason: "indirect"},
		{line: c + " indirect through bafy…", outcome: skipped, reason: "indirect"},
		{line: "  " + c + "  \r", name: ""},
		{line: "/ipns/example.com", outcome: failed, reason: "IPNS"},
		{line: "Qm", outcome: failed, reason: "invalid CID"},
		{line: c + " " + strings.Repeat("n", 256), name: strings.Repeat("n", 256), outcome: failed, reason: "256 bytes"},
		{line: c + " \x00", outcome: failed, reason: "unreadable"},
		{line: "# a comment", blank: true},
		{line: " \t", blank: true},
	} {
		it := parsePinLine(7, tt.line, false)
		if tt.blank {
			if it != nil {
				t.Errorf("%q: got an item, want none", tt.line)
			}
			continue
		}
		if it == nil || it.line != 7 || it.outcome != tt.outcome || it.name != tt.name || !strings.Contains(it.reason, tt.reason) {
			t.Errorf("%q: got %+v, want name %q, outcome %s, reason with %q", tt.line, it, tt.name, tt.outcome, tt.reason)
		}
	}
	items, err := readPinList(strings.NewReader(c + "\n" + strings.Repeat("x", 3*maxLineBytes) + "\n\n" + c))
	if err != nil || len(items) != 3 || items[1].line != 2 || items[1].outcome != failed || items[2].line != 4 || items[2].outcome != notDone {
		t.Errorf("a list with a long line: %v %v", items, err)
	}
}
