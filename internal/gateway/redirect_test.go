package gateway

import (
	"strings"
	"testing"
)

// hostileNext is a corpus of post-login redirect targets that must never leave the
// gateway's origin.
var hostileNext = []string{
	"http://evil.example", "https://evil.example/", "HTTPS://evil.example", "//evil.example", "///evil.example",
	"////evil.example", "/\\evil.example", "\\\\evil.example", "\\/evil.example", "/\\/evil.example",
	"javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:x",
	"%2F%2Fevil.example", "/%2F/evil.example", "/%2f%2fevil.example", "/%5Cevil.example", "/%5C%5Cevil.example",
	"%5C%5Cevil.example", "/%09/evil.example", "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example",
	"/\x00/evil.example", "/%00/evil.example", "/%0d%0a/evil.example", "\x01//evil.example", " //evil.example",
	" /foo", "\t/foo", "evil.example", "evil.example/path", "@evil.example", "HTTP://EVIL.EXAMPLE",
	"http:/evil.example", "http:evil.example", "https:/\\evil.example", "//evil.example/%2e%2e",
	"//evil%2eexample", "/%252F%252Fevil.example/x\\y", "//evil.example:443", "/\x7f/evil", "ftp://evil.example",
	"mailto:a@evil.example", "//user:pass@evil.example", "https://gateway@evil.example", "/_codehub/login?next=//evil",
	"/_codehub/logout", "//", "/\\", "\\", "%2F%5Cevil.example", "/%5c/evil.example", "http%3A%2F%2Fevil.example",
	strings.Repeat("/a", 2000),
}

func TestSafeNextRejectsHostile(t *testing.T) {
	if len(hostileNext) < 50 {
		t.Fatalf("corpus too small: %d", len(hostileNext))
	}
	for _, p := range hostileNext {
		got := safeNext(p)
		if got != "/" {
			t.Errorf("safeNext(%q) = %q, want \"/\"", p, got)
		}
	}
}

func TestSafeNextKeepsLocalPaths(t *testing.T) {
	for _, p := range []string{
		"/", "/?folder=/home/alice/workspace", "/stable-abc/static/out/vs/code/browser/workbench/workbench.html",
		"/proxy/8888/lab?x=1#frag", "/a/b/../c", "/%7Euser",
	} {
		if got := safeNext(p); got != p {
			t.Errorf("safeNext(%q) = %q, want it unchanged", p, got)
		}
	}
}
