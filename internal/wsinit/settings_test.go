package wsinit

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMergeSettings(t *testing.T) {
	defaults := DefaultSettings("/opt/conda")
	allKeys, _ := json.Marshal(defaults)
	cases := []struct {
		name     string
		existing *string // nil: no file
		want     SettingsResult
		wantErr  string
	}{
		{name: "fresh", want: SettingsCreated},
		{name: "empty-file", existing: ptr(""), want: SettingsMerged},
		{name: "empty-object", existing: ptr("{}"), want: SettingsMerged},
		{name: "jsonc-user-wins", want: SettingsMerged, existing: ptr(`// my settings
{
  /* I like telemetry */
  "telemetry.telemetryLevel": "all",
  "editor.fontSize": 15, // big
  "files.exclude": {"**/.git": true, },
  "url": "http://example.com/*not-a-comment*/",
}
`)},
		{name: "utf8-bom", existing: ptr("\ufeff{\"editor.fontSize\": 15}\n"), want: SettingsMerged},
		{name: "comment-after-last-value", want: SettingsMerged, existing: ptr("{\n  \"editor.fontSize\": 15 // big\n}\n")},
		{name: "complete", want: SettingsUnchanged, existing: ptr(string(allKeys))},
		{name: "malformed", want: SettingsMalformed, wantErr: "malformed, kept as is", existing: ptr("{\n  \"editor.fontSize\": 15\n  \"oops\": \n")},
		{name: "not-an-object", want: SettingsMalformed, wantErr: "malformed, kept as is", existing: ptr("[1, 2]\n")},
		{name: "unterminated-comment", want: SettingsMalformed, wantErr: "unterminated /* comment", existing: ptr("{ /* \n")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			path := filepath.Join(tmp, "User", "settings.json")
			if tc.existing != nil {
				writeFile(t, path, *tc.existing)
			}
			got, gotPath, err := MergeSettings(tmp, "", defaults)
			if gotPath != path {
				t.Errorf("path = %s, want %s", gotPath, path)
			}
			if got != tc.want {
				t.Errorf("result = %q, want %q", got, tc.want)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("err = %v, want one naming %s and containing %q", err, path, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			content := readFile(t, path)
			if tc.want == SettingsMalformed || tc.want == SettingsUnchanged {
				if content != *tc.existing {
					t.Fatalf("user's file was modified:\n%s", content)
				}
				return
			}
			golden(t, tmp, "settings/"+tc.name, content)

			// The result must be valid JSONC holding the user's values plus every default.
			stripped, _, err := stripJSONC([]byte(content))
			if err != nil {
				t.Fatal(err)
			}
			var merged map[string]any
			if err := json.Unmarshal(stripped, &merged); err != nil {
				t.Fatalf("merged file is not valid JSONC: %v\n%s", err, content)
			}
			for k, v := range defaults {
				if _, ok := merged[k]; !ok {
					t.Errorf("default %s missing", k)
				} else if tc.name != "jsonc-user-wins" && merged[k] != v {
					t.Errorf("%s = %v, want %v", k, merged[k], v)
				}
			}
			if tc.name == "jsonc-user-wins" && merged["telemetry.telemetryLevel"] != "all" {
				t.Errorf("user's telemetry.telemetryLevel was overridden: %v", merged["telemetry.telemetryLevel"])
			}

			// Idempotent: a second run changes nothing.
			if r, _, err := MergeSettings(tmp, "", defaults); err != nil || r != SettingsUnchanged {
				t.Fatalf("second run = %q, %v; want unchanged", r, err)
			}
			if again := readFile(t, path); again != content {
				t.Fatal("second run rewrote the file")
			}
		})
	}
}

func TestMergeSettingsUnwritable(t *testing.T) {
	if os.Geteuid() == 0 {
		// root ignores directory permissions; use a path under a regular file instead.
		tmp := t.TempDir()
		writeFile(t, filepath.Join(tmp, "file"), "")
		_, _, err := MergeSettings(filepath.Join(tmp, "file"), "", DefaultSettings("/opt/conda"))
		if err == nil || !strings.Contains(err.Error(), filepath.Join(tmp, "file", "User")) {
			t.Fatalf("err = %v, want one naming the settings dir", err)
		}
		return
	}
	tmp := t.TempDir()
	if err := os.Chmod(tmp, 0o500); err != nil {
		t.Fatal(err)
	}
	_, _, err := MergeSettings(tmp, "", DefaultSettings("/opt/conda"))
	if err == nil || !strings.Contains(err.Error(), tmp) {
		t.Fatalf("err = %v, want one naming %s", err, tmp)
	}
}

func ptr(s string) *string { return &s }

// With the applied defaults remembered: a new default is added, a changed default replaces a
// value the user never touched, a value the user chose stays, a key the user deleted stays
// deleted.
func TestMergeSettingsFollowsDefaults(t *testing.T) {
	tmp := t.TempDir()
	state := filepath.Join(tmp, "state", settingsStateFile)
	path := filepath.Join(tmp, "User", "settings.json")
	v1 := map[string]any{"a.number": 1, "b.string": "x", "d.object": map[string]any{"k": []any{1, "}"}}, "e.gone": true}
	if r, _, err := MergeSettings(tmp, state, v1); err != nil || r != SettingsCreated {
		t.Fatalf("first start: %q, %v", r, err)
	}
	// The user edits: chooses b, deletes e, adds a comment and a key of their own.
	writeFile(t, path, `// mine
{
  "a.number": 1,
  "b.string": "mine", // my choice
  "d.object": {"k": [1, "}"]},
  "z.own": [1, 2],
}
`)
	v2 := map[string]any{"a.number": 2, "b.string": "y", "c.new": true, "d.object": map[string]any{"k": []any{2}}, "e.gone": false}
	if r, _, err := MergeSettings(tmp, state, v2); err != nil || r != SettingsMerged {
		t.Fatalf("new image: %q, %v", r, err)
	}
	content := readFile(t, path)
	golden(t, tmp, "settings/follows-defaults", content)
	stripped, _, err := stripJSONC([]byte(content))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(stripped, &got); err != nil {
		t.Fatalf("result is not JSONC: %v\n%s", err, content)
	}
	want := map[string]any{"a.number": 2.0, "b.string": "mine", "c.new": true, "d.object": map[string]any{"k": []any{2.0}}, "z.own": []any{1.0, 2.0}}
	if !jsonEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	if r, _, err := MergeSettings(tmp, state, v2); err != nil || r != SettingsUnchanged {
		t.Fatalf("same image again: %q, %v", r, err)
	}
}

func TestTopLevelValueSpans(t *testing.T) {
	for _, in := range []string{
		`{}`,
		`{"a":1,"b":"x\"}","c":{"d":[1,{"e":"]"}]},"f":null,"g":-1.5e3,"h":[],"a":true}`,
		"{\n  // c\n  \"k\" : [ \"/*\" , 2 ] , \"l\":false,\n}",
	} {
		stripped, _, err := stripJSONC([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		var want map[string]any
		if err := json.Unmarshal(stripped, &want); err != nil {
			t.Fatal(err)
		}
		spans := topLevelValueSpans(stripped)
		if len(spans) != len(want) {
			t.Fatalf("%s: %d spans, want %d", in, len(spans), len(want))
		}
		for k, v := range want {
			var got any
			sp := spans[k]
			if err := json.Unmarshal(stripped[sp[0]:sp[1]], &got); err != nil || !jsonEqual(got, v) {
				t.Errorf("%s: span of %s = %q, want %v", in, k, stripped[sp[0]:sp[1]], v)
			}
		}
	}
}
