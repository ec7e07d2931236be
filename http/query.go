package http

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tack-ipfs/tack"
)

// ParseListQuery turns the query of GET /pins into the account's filter. It
// returns EINVALID, with details naming the parameter, for:
//   - cid: not 1 to 10 CIDs (comma-separated, or the parameter repeated), or
//     one that tack.ParseCID refuses. CIDs are compared by tack.ContentKey,
//     so any encoding of a CID matches.
//   - name: over 255 bytes, not UTF-8, or holding a NUL. An empty name is
//     ignored.
//   - match: not exact, iexact, partial or ipartial (default exact; it
//     applies only with name).
//   - status: not a comma-separated list of queued, pinning, pinned and
//     failed. Without it, only pinned requests match, unless cid, name or
//     meta is given: then all four do, so that a client looking a request
//     up finds it whatever its status (the spec leaves this open).
//   - before, after: not RFC 3339, with any number of fraction digits and Z
//     or ±hh:mm. A '+' that arrived raw, and so decoded to a space, is
//     accepted.
//   - limit: not an integer from 1 to 1000 (default 10).
//   - meta: not a JSON object of strings within the limits of Pin.meta.
//
// Other parameters are ignored.
func ParseListQuery(q url.Values, accountID int64) (tack.PinFilter, error) {
	f := tack.PinFilter{AccountID: accountID, Match: tack.MatchExact, Limit: tack.DefaultLimit}

	if vs, ok := q["cid"]; ok {
		keys, err := parseCIDList(vs)
		if err != nil {
			return tack.PinFilter{}, err
		}
		f.Keys = keys
	}

	if q.Has("name") {
		name := q.Get("name")
		if err := checkText("name", name, tack.MaxNameBytes); err != nil {
			return tack.PinFilter{}, err
		}
		if name != "" {
			f.Name = &name
		}
	}

	if q.Has("match") {
		m, err := tack.ParseMatch(q.Get("match"))
		if err != nil {
			return tack.PinFilter{}, tack.Errorf(tack.EINVALID, "invalid match %q: use exact, iexact, partial or ipartial", clip(q.Get("match")))
		}
		f.Match = m
	}

	if q.Has("meta") {
		meta, err := parseMetaFilter(q.Get("meta"))
		if err != nil {
			return tack.PinFilter{}, err
		}
		if len(meta) > 0 {
			f.Meta = meta
		}
	}

	if vs, ok := q["status"]; ok {
		statuses, err := parseStatusList(vs)
		if err != nil {
			return tack.PinFilter{}, err
		}
		f.Statuses = statuses
	} else if f.Keys == nil && f.Name == nil && f.Meta == nil {
		f.Statuses = []tack.Status{tack.StatusPinned}
	}

	for _, p := range []struct {
		param string
		dst   *time.Time
	}{{"before", &f.Before}, {"after", &f.After}} {
		if !q.Has(p.param) {
			continue
		}
		t, err := parseTime(p.param, q.Get(p.param))
		if err != nil {
			return tack.PinFilter{}, err
		}
		*p.dst = t
	}
	// Stores keep created at microsecond precision, so "created < before"
	// is "created < before rounded up to a microsecond", and "created >
	// after" is "created > after rounded down".
	if q.Has("before") {
		if t := f.Before.Truncate(time.Microsecond); !t.Equal(f.Before) {
			f.Before = t.Add(time.Microsecond)
		}
		if f.Before.IsZero() {
			// A zero Before means no filter: keep before=0001-01-01T00:00:00Z
			// matching nothing, as it should.
			f.Before = f.Before.Add(time.Microsecond)
		}
	}
	f.After = f.After.Truncate(time.Microsecond)

	if q.Has("limit") {
		s := q.Get("limit")
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > tack.MaxListLimit {
			return tack.PinFilter{}, tack.Errorf(tack.EINVALID, "invalid limit %q: must be an integer from 1 to %d", clip(s), tack.MaxListLimit)
		}
		f.Limit = n
	}
	return f, nil
}

// parseCIDList parses the values of the cid parameter into unique content keys.
func parseCIDList(vs []string) ([]string, error) {
	var items []string
	for _, v := range vs {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
			if len(items) > tack.MaxFilterCIDs {
				return nil, tack.Errorf(tack.EINVALID, "invalid cid: at most %d CIDs may be given", tack.MaxFilterCIDs)
			}
		}
	}
	if len(items) == 0 {
		return nil, tack.Errorf(tack.EINVALID, "invalid cid: give 1 to %d comma-separated CIDs", tack.MaxFilterCIDs)
	}
	keys := make([]string, 0, len(items))
	seen := map[string]bool{}
	for _, s := range items {
		c, err := tack.ParseCID(s)
		if err != nil {
			return nil, tack.Errorf(tack.EINVALID, "invalid cid: %s", tack.ErrorMessage(err))
		}
		if k := tack.ContentKey(c); !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// parseStatusList parses the values of the status parameter into unique statuses.
func parseStatusList(vs []string) ([]tack.Status, error) {
	var statuses []tack.Status
	seen := map[tack.Status]bool{}
	for _, v := range vs {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			st, err := tack.ParseStatus(s)
			if err != nil {
				return nil, tack.Errorf(tack.EINVALID, "invalid status %q: use a comma-separated list of queued, pinning, pinned and failed", clip(s))
			}
			if !seen[st] {
				seen[st] = true
				statuses = append(statuses, st)
			}
		}
	}
	if len(statuses) == 0 {
		return nil, tack.Errorf(tack.EINVALID, "invalid status: give a comma-separated list of queued, pinning, pinned and failed")
	}
	return statuses, nil
}

// parseTime parses the before or after parameter.
func parseTime(param, s string) (time.Time, error) {
	// A raw '+' of an offset decodes to a space; RFC 3339 also allows a
	// lower-case 't' and 'z', which Go's parser does not.
	v := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), " ", "+"))
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, tack.Errorf(tack.EINVALID, "invalid %s %q: must be an RFC 3339 date-time such as 2026-11-23T10:00:00.123456Z", param, clip(s))
	}
	return t.UTC(), nil
}

// parseMetaFilter parses the meta parameter: a JSON object of strings.
func parseMetaFilter(s string) (map[string]string, error) {
	meta, err := parseMeta([]byte(s))
	if err != nil {
		return nil, tack.Errorf(tack.EINVALID, "invalid meta: %s; it must be a URL-escaped JSON object of strings, such as %s", tack.ErrorMessage(err), url.QueryEscape(`{"app_id":"99986338-1113-4706-8302-4420da6158aa"}`))
	}
	return meta, nil
}

// parseMeta parses a JSON object of strings within the limits of Pin.meta.
// A JSON null is no meta at all.
func parseMeta(b []byte) (map[string]string, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, tack.Errorf(tack.EINVALID, "not a JSON object")
	}
	if raw == nil {
		return nil, nil
	}
	if len(raw) > tack.MaxMetaKeys {
		return nil, tack.Errorf(tack.EINVALID, "%d keys, over the limit of %d", len(raw), tack.MaxMetaKeys)
	}
	meta := make(map[string]string, len(raw))
	for k, v := range raw {
		if err := checkText("key", k, tack.MaxMetaKeySize); err != nil {
			return nil, tack.Errorf(tack.EINVALID, "a %s", tack.ErrorMessage(err))
		}
		var val string
		if bytes.HasPrefix(v, []byte(`"`)) {
			if err := json.Unmarshal(v, &val); err != nil {
				return nil, tack.Errorf(tack.EINVALID, "the value of %q is not a valid string", clip(k))
			}
		} else {
			return nil, tack.Errorf(tack.EINVALID, "the value of %q is not a string (values must be strings)", clip(k))
		}
		if err := checkText("value of "+strconv.Quote(clip(k)), val, tack.MaxMetaValSize); err != nil {
			return nil, tack.Errorf(tack.EINVALID, "the %s", tack.ErrorMessage(err))
		}
		meta[k] = val
	}
	return meta, nil
}

// checkText checks a user's string: valid UTF-8, no NUL (which PostgreSQL
// cannot store) and at most max bytes.
func checkText(what, s string, max int) error {
	if len(s) > max {
		return tack.Errorf(tack.EINVALID, "%s is %d bytes long, over the limit of %d bytes", what, len(s), max)
	}
	if !utf8.ValidString(s) {
		return tack.Errorf(tack.EINVALID, "%s is not valid UTF-8", what)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return tack.Errorf(tack.EINVALID, "%s contains a NUL character", what)
	}
	return nil
}

// clip shortens user input quoted in an error message.
func clip(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	for i := n; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "…"
		}
	}
	return s[:n] + "…"
}
