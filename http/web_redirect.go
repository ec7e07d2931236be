package http

import (
	"strconv"
	"strings"
)

// nextPages are the pages a sign-in may send the browser back to: those
// that signedIn sends a signed-out browser away from.
var nextPages = map[string]bool{"/tokens": true, "/access": true, "/dashboard": true, "/admin": true}

// maxNext bounds the length of a next= that safeNext accepts.
const maxNext = 2048

// safeNext returns next if it is one of nextPages, exactly, optionally
// followed by a query; anything else gives "". Matching the path exactly
// refuses, without having to list them, every form that a browser or
// http.Redirect would turn into another site's address: schemes, "//",
// backslashes ("/\evil" is "//evil" to a browser), dot segments (which
// http.Redirect cleans away: "/a/../\evil" becomes "/\evil") and
// percent-encoded slashes, backslashes and dots. The query may hold only
// the characters a query is made of, and no backslash, control character
// or escape of one, so that nothing in it can end the header or the path.
func safeNext(next string) string {
	if len(next) > maxNext {
		return ""
	}
	path, query, hasQuery := strings.Cut(next, "?")
	if !nextPages[path] || (hasQuery && !safeQuery(query)) {
		return ""
	}
	return next
}

// safeQuery says whether q is made only of a query's characters (RFC 3986:
// unreserved, sub-delims, ":", "@", "/" and "?") and of percent escapes,
// none of which is a backslash or a control character.
func safeQuery(q string) bool {
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,;=:@/?", c) >= 0:
		case c == '%':
			if i+2 >= len(q) || !ishex(q[i+1]) || !ishex(q[i+2]) {
				return false
			}
			b, _ := strconv.ParseUint(q[i+1:i+3], 16, 8)
			if b < 0x20 || b == 0x7f || b == '\\' {
				return false
			}
			i += 2
		default:
			return false
		}
	}
	return true
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
