package auth

import "testing"

// TestLocalPath: the one redirect validator refuses what either of the two it replaces
// refused (the gateway's corpus is internal/gateway/redirect_test.go).
func TestLocalPath(t *testing.T) {
	for _, p := range []string{"/a\u202eb", "/\xff", "/a\u2028", "/a\\b", "/%5Cx", "/_codehub/login?next=/x", "//x", "x"} {
		if got := LocalPath(p); got != "/" {
			t.Errorf("LocalPath(%q) = %q, want \"/\"", p, got)
		}
	}
	for _, p := range []string{"/", "/user/alice/?folder=/home/coder", "/caf\u00e9", "/_codehub/oidc/login?next=%2F"} {
		if got := LocalPath(p); got != p {
			t.Errorf("LocalPath(%q) = %q, want it unchanged", p, got)
		}
	}
}
