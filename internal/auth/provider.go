package auth

import (
	"net/url"
	"strings"
)

// maxNextLen bounds a local redirect target.
const maxNextLen = 2048

// LocalPath returns next if it is a path on this gateway, otherwise "/". It is the one
// gate between a ?next= parameter (or a page's own URL) and a redirect, for the
// gateway's pages and every provider's login URL alike, so it refuses anything a
// browser could read as another origin: schemes, "//host", "/\host", encoded or
// control-character variants of those. It also refuses the gateway's own sign-in and
// sign-out pages, which would loop.
func LocalPath(next string) string {
	if next == "" || len(next) > maxNextLen || next[0] != '/' || checkText(next) != nil || strings.ContainsRune(next, '\\') {
		return "/"
	}
	if len(next) > 1 && next[1] == '/' {
		return "/"
	}
	// Decoded forms must not hide a second slash, backslash or a scheme either.
	if dec, err := url.PathUnescape(next); err != nil || strings.HasPrefix(dec, "//") || strings.ContainsAny(dec, "\\\x00\r\n\t") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	if strings.HasPrefix(u.Path, "/_codehub/login") || strings.HasPrefix(u.Path, "/_codehub/logout") {
		return "/"
	}
	return next
}
