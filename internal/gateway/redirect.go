package gateway

import (
	"net/url"
	"strings"
)

// safeNext returns next if it is a path on this gateway, otherwise "/". It is the only
// gate between a ?next= parameter and a redirect, so it rejects anything a browser could
// read as another origin: schemes, "//host", "/\host", encoded or control-character
// variants of those.
func safeNext(next string) string {
	if next == "" || len(next) > 2048 || next[0] != '/' {
		return "/"
	}
	for i := 0; i < len(next); i++ {
		if c := next[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	if len(next) > 1 && (next[1] == '/' || next[1] == '\\') {
		return "/"
	}
	// Decoded forms must not hide a second slash, backslash or a scheme either.
	if dec, err := url.PathUnescape(next); err != nil || strings.HasPrefix(dec, "//") || strings.HasPrefix(dec, "/\\") || strings.ContainsAny(dec, "\\\x00\r\n\t") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	if strings.HasPrefix(u.Path, Prefix+"login") || strings.HasPrefix(u.Path, Prefix+"logout") {
		return "/"
	}
	return next
}
