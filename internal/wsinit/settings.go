package wsinit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DefaultSettings are the machine defaults every workspace starts with. python.* point at
// the image's conda base env, which matches the Jupyter service's base env.
func DefaultSettings(condaBase string) map[string]any {
	return map[string]any{
		"telemetry.telemetryLevel": "off",
		// Replaces the deprecated Bracket Pair Colorizer 2 extension: VS Code does it natively.
		"editor.bracketPairColorization.enabled": true,
		"editor.guides.bracketPairs":             "active",
		// Stops the per-window Copilot agent (~100 MiB each) that cannot reach its service anyway.
		"chat.disableAIFeatures": true,
		// With the AI features off the secondary side bar (Chat) would open empty.
		"workbench.secondarySideBar.defaultVisibility": "hidden",
		"update.mode": "none",
		// Builtin extensions are pinned by the image; the gallery is not reachable from every cluster.
		"extensions.autoUpdate":               false,
		"extensions.autoCheckUpdates":         false,
		"workbench.enableExperiments":         false,
		"python.condaPath":                    filepath.Join(condaBase, "bin", "conda"),
		"python.defaultInterpreterPath":       filepath.Join(condaBase, "bin", "python"),
		"python.terminal.activateEnvironment": true,
	}
}

// settingsStateFile, in the state dir, holds the defaults applied by the last start.
const settingsStateFile = "settings-defaults.json"

// SettingsResult says what MergeSettings did.
type SettingsResult string

const (
	SettingsCreated   SettingsResult = "created"
	SettingsMerged    SettingsResult = "merged"
	SettingsUnchanged SettingsResult = "unchanged"
	SettingsMalformed SettingsResult = "kept malformed user file"
)

// settingsPath is the file code-server's browser client reads as "User" settings. The
// Machine/ (remote) settings file would be the natural place for defaults, but VS Code
// ignores application-scoped settings there (telemetry.telemetryLevel, update.mode,
// extensions.autoUpdate), so the defaults go into the User file and only fill missing keys.
func settingsPath(userDataDir string) string {
	return filepath.Join(userDataDir, "User", "settings.json")
}

// MergeSettings applies defaults to the user's settings.json; the user's values always win.
// stateFile (may be empty) remembers the defaults applied last time, which tells a key the
// user deleted (not added again) from one they never had (added), and a value the user never
// touched (follows a changed default) from one they chose (kept). The file is edited
// textually, so the user's comments and formatting survive; a file that does not parse as
// JSON-with-comments is left as it is and reported.
func MergeSettings(userDataDir, stateFile string, defaults map[string]any) (SettingsResult, string, error) {
	path := settingsPath(userDataDir)
	last := map[string]any{}
	if stateFile != "" {
		if data, err := os.ReadFile(stateFile); err == nil {
			_ = json.Unmarshal(data, &last) // unreadable: behave as on a first start
		}
	}
	old, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return "", path, fmt.Errorf("settings dir %s: %w", filepath.Dir(path), unwrapPathErr(err))
		}
		var b bytes.Buffer
		b.WriteString("// Defaults written by codehub-init on first start. Your changes here win over them.\n{")
		writeEntries(&b, defaults, sortedKeys(defaults))
		b.WriteString("\n}\n")
		if err := writeFileAtomic(path, b.Bytes(), 0o644); err != nil {
			return "", path, fmt.Errorf("settings %s: %w", path, err)
		}
		return SettingsCreated, path, saveAppliedDefaults(stateFile, defaults, last)
	}
	if err != nil {
		return "", path, fmt.Errorf("settings %s: %w", path, unwrapPathErr(err))
	}

	stripped, _, err := stripJSONC(old)
	if err != nil {
		return SettingsMalformed, path, fmt.Errorf("settings %s: malformed, kept as is (%v)", path, err)
	}
	var user map[string]any
	if len(bytes.TrimSpace(stripped)) == 0 {
		// VS Code treats an empty settings file as {}.
		user = map[string]any{}
		old, stripped = []byte("{}\n"), []byte("{}\n")
	} else if err := json.Unmarshal(stripped, &user); err != nil || user == nil {
		if err == nil {
			err = errors.New("not a JSON object")
		}
		return SettingsMalformed, path, fmt.Errorf("settings %s: malformed, kept as is (%v)", path, err)
	}
	var missing, changed []string
	for _, k := range sortedKeys(defaults) {
		uv, has := user[k]
		lv, applied := last[k]
		switch {
		case !has && !applied:
			missing = append(missing, k)
		case has && applied && jsonEqual(uv, lv) && !jsonEqual(defaults[k], lv):
			changed = append(changed, k)
		}
	}
	if len(missing) == 0 && len(changed) == 0 {
		return SettingsUnchanged, path, saveAppliedDefaults(stateFile, defaults, last)
	}

	text := old
	if len(changed) > 0 {
		spans := topLevelValueSpans(stripped)
		// Splice from the end so earlier offsets stay valid.
		sort.Slice(changed, func(i, j int) bool { return spans[changed[i]][0] > spans[changed[j]][0] })
		for _, k := range changed {
			sp, ok := spans[k]
			if !ok || sp[0] >= sp[1] {
				continue // cannot locate it safely: leave the user's text alone
			}
			v, _ := json.Marshal(defaults[k])
			text = append(append(append([]byte(nil), text[:sp[0]]...), v...), text[sp[1]:]...)
		}
	}
	if len(missing) > 0 {
		text, err = insertEntries(text, defaults, missing)
		if err != nil {
			return "", path, fmt.Errorf("settings %s: %w", path, err)
		}
	}
	if err := writeFileAtomic(path, text, 0o644); err != nil {
		return "", path, fmt.Errorf("settings %s: %w", path, err)
	}
	return SettingsMerged, path, saveAppliedDefaults(stateFile, defaults, last)
}

// insertEntries adds keys before the object's final brace.
func insertEntries(old []byte, values map[string]any, keys []string) ([]byte, error) {
	// stripJSONC keeps every byte offset, so positions found in stripped apply to old.
	stripped, trailingCommas, err := stripJSONC(old)
	if err != nil {
		return nil, err
	}
	end := bytes.LastIndexByte(stripped, '}')
	last := lastNonSpace(stripped[:end])
	var b bytes.Buffer
	b.Write(old[:last+1])
	// A trailing comma the user left after the last entry now separates it from ours.
	hasComma := false
	for _, i := range trailingCommas {
		hasComma = hasComma || (i > last && i < end)
	}
	if stripped[last] != '{' && !hasComma {
		b.WriteByte(',')
	}
	b.Write(bytes.TrimRight(old[last+1:end], " \t\r\n"))
	writeEntries(&b, values, keys)
	b.WriteString("\n")
	b.Write(old[end:])
	return b.Bytes(), nil
}

func saveAppliedDefaults(stateFile string, defaults, last map[string]any) error {
	if stateFile == "" || jsonEqual(defaults, last) {
		return nil
	}
	data, _ := json.MarshalIndent(defaults, "", "  ")
	if err := os.MkdirAll(filepath.Dir(stateFile), 0o755); err != nil {
		return fmt.Errorf("settings state %s: %w", stateFile, unwrapPathErr(err))
	}
	if err := writeFileAtomic(stateFile, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("settings state %s: %w", stateFile, err)
	}
	return nil
}

func jsonEqual(a, b any) bool {
	aj, err1 := json.Marshal(a)
	bj, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(aj, bj)
}

// topLevelValueSpans returns, for each member of the top-level object in s (JSON already
// validated, comments blanked), the byte range of its value. A repeated key maps to its
// last occurrence, the one JSON parsers (and VS Code) use.
func topLevelValueSpans(s []byte) map[string][2]int {
	spans := map[string][2]int{}
	i := 0
	skipSpace := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++
		}
	}
	skipString := func() { // s[i] == '"'
		for i++; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' {
				i++
			}
		}
		i++
	}
	skipSpace()
	i++ // '{'
	for {
		skipSpace()
		if i >= len(s) || s[i] != '"' {
			return spans // '}' or end
		}
		keyStart := i
		skipString()
		var key string
		_ = json.Unmarshal(s[keyStart:i], &key)
		skipSpace()
		i++ // ':'
		skipSpace()
		start := i
		switch s[i] {
		case '"':
			skipString()
		case '{', '[':
			depth := 0
			for ; i < len(s); i++ {
				switch s[i] {
				case '"':
					skipString()
					i--
				case '{', '[':
					depth++
				case '}', ']':
					depth--
				}
				if depth == 0 {
					i++
					break
				}
			}
		default:
			for i < len(s) && !strings.ContainsRune(",}] \t\r\n", rune(s[i])) {
				i++
			}
		}
		spans[key] = [2]int{start, i}
		skipSpace()
		if i < len(s) && s[i] == ',' {
			i++
		}
	}
}

func writeEntries(b *bytes.Buffer, values map[string]any, keys []string) {
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kj, _ := json.Marshal(k)
		vj, _ := json.Marshal(values[k])
		fmt.Fprintf(b, "\n  %s: %s", kj, vj)
	}
}

func lastNonSpace(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
		default:
			return i
		}
	}
	return -1
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// stripJSONC turns JSON-with-comments into JSON by replacing comments and trailing commas
// with spaces (newlines kept), so every byte keeps its offset. It also returns the offsets
// of the trailing commas it removed.
func stripJSONC(in []byte) ([]byte, []int, error) {
	var trailing []int
	out := bytes.Clone(in)
	blank := func(from, to int) {
		for i := from; i < to; i++ {
			if out[i] != '\n' && out[i] != '\r' {
				out[i] = ' '
			}
		}
	}
	if bytes.HasPrefix(out, []byte("\xef\xbb\xbf")) {
		blank(0, 3) // a UTF-8 BOM some editors write; VS Code accepts it
	}
	lastComma := -1 // offset of a comma not yet followed by a value
	for i := 0; i < len(out); i++ {
		switch c := out[i]; {
		case c == '"':
			j := i + 1
			for ; j < len(out) && out[j] != '"'; j++ {
				if out[j] == '\\' {
					j++
				}
			}
			if j >= len(out) {
				return nil, nil, errors.New("unterminated string")
			}
			i, lastComma = j, -1
		case c == '/' && i+1 < len(out) && out[i+1] == '/':
			j := bytes.IndexByte(out[i:], '\n')
			if j < 0 {
				j = len(out) - i
			}
			blank(i, i+j)
			i += j - 1
		case c == '/' && i+1 < len(out) && out[i+1] == '*':
			j := bytes.Index(out[i+2:], []byte("*/"))
			if j < 0 {
				return nil, nil, errors.New("unterminated /* comment")
			}
			blank(i, i+2+j+2)
			i += 2 + j + 1
		case c == ',':
			lastComma = i
		case c == '}' || c == ']':
			if lastComma >= 0 {
				out[lastComma] = ' '
				trailing = append(trailing, lastComma)
			}
			lastComma = -1
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
		default:
			lastComma = -1
		}
	}
	return out, trailing, nil
}
