package identity

import (
	"regexp"
	"strings"
	"testing"
)

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func TestWorkspaceName(t *testing.T) {
	users := []string{
		"alice", "Alice", "ALICE", "a-b", "a.b", "a_b", "a--b", "-a", "a-", "", "...", "ユーザー",
		"saarc", "user@example.com", "user@example.org", strings.Repeat("x", 300), strings.Repeat("x", 301),
		"0", "1", "a b", "a\x00b",
	}
	seen := map[string]string{}
	for _, u := range users {
		n := WorkspaceName(u)
		if len(n) > 41 || !dnsLabel.MatchString(n) {
			t.Errorf("WorkspaceName(%q) = %q: not a short DNS label", u, n)
		}
		if prev, dup := seen[n]; dup {
			t.Errorf("users %q and %q share workspace name %q", prev, u, n)
		}
		seen[n] = u
		if WorkspaceName(u) != n {
			t.Errorf("WorkspaceName(%q) not deterministic", u)
		}
	}
	if got := WorkspaceName("alice"); !strings.HasPrefix(got, "alice-") {
		t.Errorf("WorkspaceName(alice) = %q, want a readable prefix", got)
	}
}
