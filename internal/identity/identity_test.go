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

func TestNamedWorkspaceName(t *testing.T) {
	users := []string{"alice", "Alice", "a-b", "a.b", "", "ユーザー", strings.Repeat("x", 300), "a\x00b", "alice-dev"}
	names := []string{"dev", "b-c", "x", strings.Repeat("z", MaxWorkspaceNameLen), "a1-b2"}
	seen := map[string]string{}
	for _, u := range users {
		seen[WorkspaceName(u)] = "default of " + u
	}
	for _, u := range users {
		for _, n := range names {
			full := NamedWorkspaceName(u, n)
			if len(full) > 41 || !dnsLabel.MatchString(full) || strings.Contains(full, "--") {
				t.Errorf("NamedWorkspaceName(%q, %q) = %q: not a short DNS label without \"--\"", u, n, full)
			}
			if prev, dup := seen[full]; dup {
				t.Errorf("%q/%q and %s share the name %q", u, n, prev, full)
			}
			seen[full] = u + "/" + n
			if NamedWorkspaceName(u, n) != full {
				t.Errorf("NamedWorkspaceName(%q, %q) not deterministic", u, n)
			}
		}
	}
	// The separator is not ambiguous: ("a", "b-c") and ("a-b", "c") differ.
	if NamedWorkspaceName("a", "b-c") == NamedWorkspaceName("a-b", "c") {
		t.Error("user/name split is ambiguous")
	}
	if got := NamedWorkspaceName("alice", "dev"); !strings.HasPrefix(got, "alice-dev-") {
		t.Errorf("NamedWorkspaceName(alice, dev) = %q, want a readable prefix", got)
	}
}

func TestCheckWorkspaceName(t *testing.T) {
	for _, good := range []string{"dev", "a", "0", "a-b", "ml2", strings.Repeat("a", MaxWorkspaceNameLen)} {
		if err := CheckWorkspaceName(good); err != nil {
			t.Errorf("CheckWorkspaceName(%q) = %v, want ok", good, err)
		}
	}
	bad := map[string]string{
		"": "1 to",
		strings.Repeat("a", MaxWorkspaceNameLen+1): "1 to",
		"Dev":     "lowercase",
		"a_b":     "lowercase",
		"a/b":     "lowercase",
		"..":      "lowercase",
		"a.b":     "lowercase",
		"-a":      "start and end",
		"a-":      "start and end",
		"a--b":    "two dashes",
		"default": "reserved",
		"dév":     "lowercase",
	}
	for name, want := range bad {
		err := CheckWorkspaceName(name)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckWorkspaceName(%q) = %v, want an error saying %q", name, err, want)
		}
	}
}

// TestWorkspaceNameUnchanged pins default names: existing state dirs, Workspace objects and
// volumes are found by them, so a change would lose every user's files.
func TestWorkspaceNameUnchanged(t *testing.T) {
	for user, want := range map[string]string{"alice": "alice-2bd806c97f", "Alice.B--c": "alice-b-c-e6be3fcf49", "": "u-e3b0c44298", "ユーザー": "u-11f06de567"} {
		if got := WorkspaceName(user); got != want {
			t.Errorf("WorkspaceName(%q) = %q, want %q (as before named workspaces)", user, got, want)
		}
	}
}
