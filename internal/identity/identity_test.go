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

func TestCheckName(t *testing.T) {
	good := []string{"alice", "Alice", "a.b-c_d", "alice@example.com", "Ærøskøbing", "用户", "o'neil", "auth0|1234", strings.Repeat("a", MaxNameLen)}
	bad := map[string]string{
		"empty":              "",
		"too long":           strings.Repeat("a", MaxNameLen+1),
		"space":              "alice smith",
		"tab":                "alice\tb",
		"nbsp":               "alice\u00a0",
		"ideographic space":  "alice\u3000",
		"newline":            "alice\nadmin",
		"nul":                "alice\x00",
		"del":                "alice\x7f",
		"c1 control":         "alice\u0085",
		"bidi override":      "admin\u202e",
		"bidi isolate":       "\u2066admin",
		"zero width joiner":  "ad\u200dmin",
		"zero width space":   "ad\u200bmin",
		"bom":                "\ufeffadmin",
		"soft hyphen":        "ad\u00admin",
		"line separator":     "alice\u2028",
		"fullwidth":          "ａｄｍｉｎ",
		"ligature":           "ﬁle",
		"compat superscript": "user²",
		"slash":              "a/b",
		"backslash":          `a\b`,
		"invalid utf-8":      "a\xffb",
		"private use":        "a\ue000",
	}
	for _, n := range good {
		if err := CheckName(n); err != nil {
			t.Errorf("CheckName(%q) refused: %v", n, err)
		}
	}
	for what, n := range bad {
		if err := CheckName(n); err == nil {
			t.Errorf("%s: CheckName(%q) accepted", what, n)
		}
	}
	if got := LogName("correct horse battery staple"); strings.Contains(got, "horse") || len(got) != len("sha256:")+8 {
		t.Errorf("LogName leaks or has the wrong shape: %q", got)
	}
}
