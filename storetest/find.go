package storetest

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tack-ipfs/tack"
)

// newestFirst returns the IDs of pins ordered as FindPins orders them.
func newestFirst(pins []*tack.PinRequest) []string {
	sorted := slices.Clone(pins)
	slices.SortFunc(sorted, func(a, b *tack.PinRequest) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		switch {
		case a.ID > b.ID:
			return -1
		case a.ID < b.ID:
			return 1
		}
		return 0
	})
	return ids(sorted)
}

// checkFind fails the test unless FindPins(f) returns exactly want, in
// order, and counts len(want) in all.
func checkFind(tb testing.TB, s tack.Store, what string, f tack.PinFilter, want []string) {
	tb.Helper()
	pins, n := MustFindPins(tb, s, f)
	if got := ids(pins); !slices.Equal(got, want) {
		tb.Errorf("%s: FindPins = %v, want %v", what, got, want)
	}
	if n != len(want) {
		tb.Errorf("%s: count = %d, want %d", what, n, len(want))
	}
}

// testPagination pages through 37 requests as Kubo does: 10 at a time,
// with before set to the created time of the last result, until count
// equals the number of results.
func testPagination(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "ida@example.com")
	b := MustCreateAccount(t, s, "jon@example.com")
	pins := MustCreatePins(t, s, a.ID, "page", 37)
	MustCreatePins(t, s, b.ID, "page", 5)
	want := newestFirst(pins)

	var got []string
	var before time.Time
	for page := 0; ; page++ {
		if page > 10 {
			t.Fatalf("pagination does not end: %d pages", page)
		}
		results, count := MustFindPins(t, s, tack.PinFilter{AccountID: a.ID, Statuses: allStatuses, Before: before, Limit: 10})
		if remaining := len(want) - len(got); count != remaining {
			t.Errorf("page %d: count = %d, want %d (every match, before included)", page, count, remaining)
		}
		if len(results) == 0 {
			if count != 0 {
				t.Fatalf("page %d: no results but count %d", page, count)
			}
			break
		}
		if len(results) > 10 {
			t.Errorf("page %d: %d results over the limit of 10", page, len(results))
		}
		got = append(got, ids(results)...)
		if count == len(results) {
			break
		}
		before = results[len(results)-1].Created
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages gave\n%v\nwant\n%v", got, want)
	}
}

func testBeforeAfter(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "kim@example.com")
	p := MustCreatePins(t, s, a.ID, "ba", 5)
	f := func(before, after time.Time) tack.PinFilter {
		return tack.PinFilter{AccountID: a.ID, Statuses: allStatuses, Before: before, After: after, Limit: 100}
	}
	var zero time.Time
	µs := time.Microsecond
	tests := []struct {
		name          string
		before, after time.Time
		want          []*tack.PinRequest
	}{
		{"after is strict", zero, p[1].Created, []*tack.PinRequest{p[4], p[3], p[2]}},
		{"before is strict", p[3].Created, zero, []*tack.PinRequest{p[2], p[1], p[0]}},
		{"both", p[4].Created, p[0].Created, []*tack.PinRequest{p[3], p[2], p[1]}},
		{"adjacent", p[2].Created, p[1].Created, nil},
		{"after the newest", zero, p[4].Created, nil},
		{"before the oldest", p[0].Created, zero, nil},
		{"before half a µs later", p[2].Created.Add(µs / 2), zero, []*tack.PinRequest{p[2], p[1], p[0]}},
		{"after half a µs later", zero, p[2].Created.Add(µs / 2), []*tack.PinRequest{p[4], p[3]}},
		{"before in another zone", p[3].Created.In(time.FixedZone("X", -7*3600)), zero, []*tack.PinRequest{p[2], p[1], p[0]}},
	}
	for _, tt := range tests {
		want := []string{}
		for _, r := range tt.want {
			want = append(want, r.ID)
		}
		checkFind(t, s, tt.name, f(tt.before, tt.after), want)
	}
}

func testFindPinsName(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "lou@example.com")
	b := MustCreateAccount(t, s, "max@example.com")
	names := []string{
		"photos", "Photos", "PHOTOS 2024", "my photos",
		"100%", "100% done", "100x",
		"a_b", "axb",
		"Ünïcode Straße", "ünïcode straße", "ÜNÏCODE",
		"",
	}
	byName := map[string]*tack.PinRequest{}
	for _, name := range names {
		byName[name] = MustCreatePin(t, s, NewPin(t, a.ID, name))
		MustCreatePin(t, s, NewPin(t, b.ID, name)) // never seen by a
	}
	tests := []struct {
		match tack.Match
		name  string
		want  []string
	}{
		{tack.MatchExact, "photos", []string{"photos"}},
		{tack.MatchExact, "Photos", []string{"Photos"}},
		{tack.MatchExact, "photo", nil},
		{tack.MatchExact, "100%", []string{"100%"}},
		{tack.MatchExact, "100_", nil},
		{tack.MatchExact, "a_b", []string{"a_b"}},
		{tack.MatchExact, "ünïcode straße", []string{"ünïcode straße"}},
		{tack.MatchIExact, "photos", []string{"photos", "Photos"}},
		{tack.MatchIExact, "PHOTOS", []string{"photos", "Photos"}},
		{tack.MatchIExact, "ÜNÏCODE STRASSE", nil},
		{tack.MatchIExact, "ünïcode straße", []string{"Ünïcode Straße", "ünïcode straße"}},
		{tack.MatchIExact, "A_B", []string{"a_b"}},
		{tack.MatchIExact, "%", nil},
		{tack.MatchPartial, "photos", []string{"photos", "my photos"}},
		{tack.MatchPartial, "%", []string{"100%", "100% done"}},
		{tack.MatchPartial, "100%", []string{"100%", "100% done"}},
		{tack.MatchPartial, "_", []string{"a_b"}},
		{tack.MatchPartial, "Ünï", []string{"Ünïcode Straße"}},
		{tack.MatchPartial, "ße", []string{"Ünïcode Straße", "ünïcode straße"}},
		{tack.MatchIPartial, "PHOTOS", []string{"photos", "Photos", "PHOTOS 2024", "my photos"}},
		{tack.MatchIPartial, "ünï", []string{"Ünïcode Straße", "ünïcode straße", "ÜNÏCODE"}},
		{tack.MatchIPartial, "X", []string{"100x", "axb"}},
		{tack.MatchIPartial, "%", []string{"100%", "100% done"}},
		{tack.MatchIPartial, "_", []string{"a_b"}},
		{tack.MatchIPartial, "nothing like it", nil},
	}
	for _, tt := range tests {
		var want []*tack.PinRequest
		for _, name := range tt.want {
			want = append(want, byName[name])
		}
		name := tt.name
		f := tack.PinFilter{AccountID: a.ID, Name: &name, Match: tt.match, Limit: 100}
		checkFind(t, s, fmt.Sprintf("%s %q", tt.match, tt.name), f, orEmpty(newestFirst(want)))
	}
}

// orEmpty returns a non-nil slice.
func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func testFindPinsStatus(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "ned@example.com")
	mix := statusMix(t, s, a.ID)
	pinsOf := func(statuses ...tack.Status) []string {
		var out []*tack.PinRequest
		for _, st := range statuses {
			for _, id := range mix[st] {
				out = append(out, MustFindPin(t, s, a.ID, id))
			}
		}
		return orEmpty(newestFirst(out))
	}
	tests := [][]tack.Status{
		{tack.StatusQueued},
		{tack.StatusPinning},
		{tack.StatusPinned},
		{tack.StatusFailed},
		{tack.StatusQueued, tack.StatusPinning},
		{tack.StatusPinned, tack.StatusFailed},
		allStatuses,
	}
	for _, statuses := range tests {
		f := tack.PinFilter{AccountID: a.ID, Statuses: statuses, Limit: 100}
		checkFind(t, s, fmt.Sprint(statuses), f, pinsOf(statuses...))
	}
	checkFind(t, s, "no status filter", tack.PinFilter{AccountID: a.ID, Limit: 100}, pinsOf(allStatuses...))
	for _, st := range allStatuses {
		for _, r := range pinsOf(st) {
			if got := MustFindPin(t, s, a.ID, r).Status; got != st {
				t.Errorf("request %s: Status %q, want %q", r, got, st)
			}
		}
	}
}

func testFindPinsKeys(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "olga@example.com")
	p := MustCreatePins(t, s, a.ID, "key", 5)
	twin := NewPin(t, a.ID, "twin of 2")
	twin.Pin.CID, twin.Key = p[2].Pin.CID, p[2].Key
	MustCreatePin(t, s, twin)
	_, unknown := NewCID(t)

	f := func(keys ...string) tack.PinFilter {
		return tack.PinFilter{AccountID: a.ID, Keys: keys, Limit: 100}
	}
	checkFind(t, s, "one key", f(p[1].Key), []string{p[1].ID})
	checkFind(t, s, "three keys", f(p[0].Key, p[2].Key, p[4].Key), newestFirst([]*tack.PinRequest{p[0], p[2], twin, p[4]}))
	checkFind(t, s, "unknown key", f(unknown), []string{})
	checkFind(t, s, "known and unknown", f(unknown, p[3].Key), []string{p[3].ID})
	checkFind(t, s, "no key filter", f(), newestFirst(append(p, twin)))
}

func testFindPinsMeta(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "pia@example.com")
	b := MustCreateAccount(t, s, "quade@example.com")
	metas := []map[string]string{
		{"a": "1"},
		{"a": "1", "b": "2"},
		{"a": "2"},
		nil,
		{"b": "2", "c": "x%"},
		{"ünï": "cödé", "A": "1"},
	}
	p := make([]*tack.PinRequest, len(metas))
	for i, m := range metas {
		r := NewPin(t, a.ID, fmt.Sprint(i))
		r.Pin.Meta = m
		p[i] = MustCreatePin(t, s, r)
		theirs := NewPin(t, b.ID, fmt.Sprint(i))
		theirs.Pin.Meta = m
		MustCreatePin(t, s, theirs)
	}
	tests := []struct {
		meta map[string]string
		want []*tack.PinRequest
	}{
		{map[string]string{"a": "1"}, []*tack.PinRequest{p[0], p[1]}},
		{map[string]string{"a": "1", "b": "2"}, []*tack.PinRequest{p[1]}},
		{map[string]string{"b": "2"}, []*tack.PinRequest{p[1], p[4]}},
		{map[string]string{"a": "1", "b": "3"}, nil},
		{map[string]string{"a": "%"}, nil},
		{map[string]string{"c": "x%"}, []*tack.PinRequest{p[4]}},
		{map[string]string{"c": "x"}, nil},
		{map[string]string{"A": "1"}, []*tack.PinRequest{p[5]}},
		{map[string]string{"ünï": "cödé"}, []*tack.PinRequest{p[5]}},
		{map[string]string{"z": "1"}, nil},
		{map[string]string{}, p},
	}
	for _, tt := range tests {
		f := tack.PinFilter{AccountID: a.ID, Meta: tt.meta, Limit: 100}
		checkFind(t, s, fmt.Sprintf("meta %v", tt.meta), f, orEmpty(newestFirst(tt.want)))
	}
}

func testFindPinsLimit(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "rex@example.com")
	p := MustCreatePins(t, s, a.ID, "lim", 7)
	want := newestFirst(p)
	for _, limit := range []int{1, 3, 7, tack.DefaultLimit, tack.MaxListLimit} {
		pins, n := MustFindPins(t, s, tack.PinFilter{AccountID: a.ID, Statuses: allStatuses, Limit: limit})
		if got, w := ids(pins), want[:min(limit, len(want))]; !slices.Equal(got, w) {
			t.Errorf("limit %d: FindPins = %v, want %v", limit, got, w)
		}
		if n != len(want) {
			t.Errorf("limit %d: count = %d, want %d", limit, n, len(want))
		}
	}
}

func testFindPinsCombined(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "sol@example.com")
	mix := statusMix(t, s, a.ID) // named mix-0 … mix-7
	pinned := mix[tack.StatusPinned]
	queued := mix[tack.StatusQueued]
	tagged := NewPin(t, a.ID, "mix-tagged")
	tagged.Pin.Meta = map[string]string{"tag": "yes"}
	MustCreatePin(t, s, tagged)
	other := MustFindPin(t, s, a.ID, queued[0])

	name := "MIX"
	f := tack.PinFilter{
		AccountID: a.ID,
		Name:      &name,
		Match:     tack.MatchIPartial,
		Statuses:  []tack.Status{tack.StatusQueued},
		Keys:      []string{tagged.Key, other.Key, MustFindPin(t, s, a.ID, pinned[0]).Key},
		Limit:     100,
	}
	checkFind(t, s, "name, status and keys", f, newestFirst([]*tack.PinRequest{tagged, other}))

	f.Meta = map[string]string{"tag": "yes"}
	checkFind(t, s, "and meta", f, []string{tagged.ID})

	f.Before = tagged.Created
	checkFind(t, s, "and before", f, []string{})
}

func testFindPinsEmpty(t *testing.T, s tack.Store) {
	a := MustCreateAccount(t, s, "tom@example.com")
	checkFind(t, s, "new account", tack.PinFilter{AccountID: a.ID, Statuses: allStatuses, Limit: 10}, []string{})
	MustCreatePins(t, s, a.ID, "queued", 2)
	checkFind(t, s, "no pinned", tack.PinFilter{AccountID: a.ID, Statuses: []tack.Status{tack.StatusPinned}, Limit: 10}, []string{})
	checkFind(t, s, "unknown account", tack.PinFilter{AccountID: a.ID + 1000, Limit: 10}, []string{})
}

// testFindPinsAsFindPinByID checks that FindPins returns each request
// exactly as FindPinByID does, every stored field, in every status and
// with every byte a name, a reason, origins and meta may hold: control
// bytes, separators, quotes, backslashes and non-ASCII text.
func testFindPinsAsFindPinByID(t *testing.T, s tack.Store) {
	ctx := t.Context()
	a := MustCreateAccount(t, s, "kim@example.com")
	names := []string{"", "plain", "a\x1fb", "\x1f", "\x1f\x1f12\x1f", "tab\tnew\nline", `"q" \ \u0041`, "ünïcödé 日本", "3\x1f"}
	var pins []*tack.PinRequest
	for i, name := range names {
		r := NewPin(t, a.ID, name)
		if i%2 == 1 {
			r.Pin.Origins = []string{"/ip4/203.0.113.7/tcp/4001/p2p/12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf", "/dns4/x\x1f.example/tcp/1"}
			r.Pin.Meta = map[string]string{"k\x1f": "v\x1f\"\\", name: name, "n": "1"}
		}
		pins = append(pins, MustCreatePin(t, s, r))
	}
	// 0-1 stay queued; 2-3 pinning with progress; 4 retried; 5 failed;
	// 6-8 pinned.
	claimed := MustClaim(t, s, "w", len(pins)-2, time.Now().Add(time.Hour))
	if len(claimed) != len(pins)-2 {
		t.Fatalf("claimed %d requests, want %d", len(claimed), len(pins)-2)
	}
	byName := map[string]string{}
	for _, r := range claimed {
		byName[r.Pin.Name] = r.ID
	}
	if err := s.ReleasePins(ctx, "w", []string{byName[names[0]], byName[names[1]]}); err != nil {
		t.Fatalf("ReleasePins: %v", err)
	}
	at := time.Now().Add(-time.Second)
	if _, err := s.RenewLeases(ctx, "w", []string{byName[names[2]], byName[names[3]]}, time.Now().Add(time.Hour), tack.Progress{Blocks: 7, Bytes: 7000, At: at}); err != nil {
		t.Fatalf("RenewLeases: %v", err)
	}
	if err := s.RetryPins(ctx, "w", []tack.Retry{{ID: byName[names[4]], At: time.Now().Add(time.Hour)}}, "not\x1ffound 3\x1f", tack.Progress{}); err != nil {
		t.Fatalf("RetryPins: %v", err)
	}
	if err := s.FailPins(ctx, "w", []string{byName[names[5]]}, "\x1fno \"providers\"\x1f"); err != nil {
		t.Fatalf("FailPins: %v", err)
	}
	for _, r := range pins[6:] {
		if err := s.CompleteDAG(ctx, &tack.DAG{Key: r.Key, Blocks: 3, Bytes: 300}); err != nil {
			t.Fatalf("CompleteDAG: %v", err)
		}
	}
	for _, f := range []tack.PinFilter{
		{AccountID: a.ID},
		{AccountID: a.ID, Statuses: []tack.Status{tack.StatusPinned}},
		{AccountID: a.ID, Statuses: allStatuses},
		{AccountID: a.ID, Statuses: []tack.Status{tack.StatusQueued, tack.StatusFailed}},
	} {
		got, _ := MustFindPins(t, s, f)
		if f.Statuses == nil && len(got) != len(pins) {
			t.Errorf("FindPins(any status) = %d requests, want %d", len(got), len(pins))
		}
		for _, r := range got {
			want := MustFindPin(t, s, a.ID, r.ID)
			if !reflect.DeepEqual(r, want) {
				t.Errorf("FindPins(%v):\n got %#v\nwant %#v (FindPinByID)", f.Statuses, r, want)
			}
		}
	}
}
