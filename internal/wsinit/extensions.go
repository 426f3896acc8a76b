package wsinit

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Extension is one VS Code extension at one version.
type Extension struct {
	ID      string // publisher.name, lower case as VS Code compares them
	Version string
	VSIX    string // path of the .vsix file, for builtin extensions
}

func (e Extension) String() string { return e.ID + "@" + e.Version }

type packageJSON struct {
	Publisher string `json:"publisher"`
	Name      string `json:"name"`
	Version   string `json:"version"`
}

func (p packageJSON) id() string { return strings.ToLower(p.Publisher + "." + p.Name) }

// BuiltinExtensions reads the pinned set: every *.vsix in dir, in file-name order (the
// image numbers them so dependencies install first). A missing dir is an empty set, which
// is the normal case for a local backend without builtin extensions.
func BuiltinExtensions(dir string) ([]Extension, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "*.vsix"))
	if err != nil {
		return nil, fmt.Errorf("builtin extensions dir %s: %w", dir, err)
	}
	sort.Strings(matches)
	var out []Extension
	seen := map[string]string{}
	for _, m := range matches {
		p, err := readVSIXManifest(m)
		if err != nil {
			return nil, fmt.Errorf("builtin extension %s: %w", m, err)
		}
		if prev, ok := seen[p.id()]; ok {
			return nil, fmt.Errorf("builtin extension %s: %s is also pinned by %s", m, p.id(), prev)
		}
		seen[p.id()] = m
		out = append(out, Extension{ID: p.id(), Version: p.Version, VSIX: m})
	}
	return out, nil
}

// readVSIXManifest reads extension/package.json from the zip's central directory only, so a
// warm start costs a few file reads per extension, not an unpack.
func readVSIXManifest(path string) (packageJSON, error) {
	var p packageJSON
	zr, err := zip.OpenReader(path)
	if err != nil {
		return p, fmt.Errorf("not a VSIX zip: %w", unwrapPathErr(err))
	}
	defer zr.Close()
	f, err := zr.Open("extension/package.json")
	if err != nil {
		return p, errors.New("no extension/package.json inside")
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 16<<20))
	if err != nil {
		return p, fmt.Errorf("extension/package.json: %w", err)
	}
	if err := json.Unmarshal(data, &p); err != nil {
		return p, fmt.Errorf("extension/package.json: %w", err)
	}
	if p.Publisher == "" || p.Name == "" || p.Version == "" {
		return p, errors.New("extension/package.json lacks publisher, name or version")
	}
	return p, nil
}

// InstalledExtensions lists what code-server considers installed in extDir: the entries of
// its extensions.json whose directory exists and is not marked obsolete (VS Code marks an
// upgraded or uninstalled version in .obsolete and deletes it later).
func InstalledExtensions(extDir string) (map[string]Extension, error) {
	obsolete := map[string]bool{}
	if data, err := os.ReadFile(filepath.Join(extDir, ".obsolete")); err == nil {
		_ = json.Unmarshal(data, &obsolete) // a torn .obsolete only makes us reinstall
	}
	out := map[string]Extension{}
	data, err := os.ReadFile(filepath.Join(extDir, "extensions.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return scanExtensionDirs(extDir, obsolete)
	}
	if err != nil {
		return nil, fmt.Errorf("extensions index %s: %w", filepath.Join(extDir, "extensions.json"), unwrapPathErr(err))
	}
	var entries []struct {
		Identifier struct {
			ID string `json:"id"`
		} `json:"identifier"`
		Version          string `json:"version"`
		RelativeLocation string `json:"relativeLocation"`
		Location         struct {
			Path string `json:"path"`
		} `json:"location"`
	}
	if err := json.Unmarshal(data, &entries); err != nil {
		// code-server rebuilds the index from the dirs; do the same rather than fail.
		return scanExtensionDirs(extDir, obsolete)
	}
	for _, e := range entries {
		rel := e.RelativeLocation
		if rel == "" && e.Location.Path != "" {
			rel = filepath.Base(e.Location.Path) // older indexes have only the absolute location
		}
		if rel == "" || obsolete[rel] {
			continue
		}
		if _, err := os.Stat(filepath.Join(extDir, rel, "package.json")); err != nil {
			continue
		}
		id := strings.ToLower(e.Identifier.ID)
		out[id] = Extension{ID: id, Version: e.Version}
	}
	return out, nil
}

func scanExtensionDirs(extDir string, obsolete map[string]bool) (map[string]Extension, error) {
	out := map[string]Extension{}
	entries, err := os.ReadDir(extDir)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("extensions dir %s: %w", extDir, unwrapPathErr(err))
	}
	for _, e := range entries {
		if !e.IsDir() || obsolete[e.Name()] {
			continue
		}
		data, err := os.ReadFile(filepath.Join(extDir, e.Name(), "package.json"))
		if err != nil {
			continue
		}
		var p packageJSON
		if json.Unmarshal(data, &p) != nil || p.Publisher == "" || p.Name == "" {
			continue
		}
		out[p.id()] = Extension{ID: p.id(), Version: p.Version}
	}
	return out, nil
}

// ExtensionSync describes one sync, for the log line and tests.
type ExtensionSync struct {
	Installed []Extension // installed or upgraded by this run
	Current   int         // already at the pinned version
	KeptUser  []Extension // the user replaced a pinned extension with another version: kept
}

// pinsFile records the pins of the last successful sync. It tells "the image's pin
// changed" (upgrade) apart from "the user installed another version" (keep theirs).
const pinsFile = "builtin-extension-pins.json"

// SyncExtensions installs the builtin extensions that are not yet in extDir at their pinned
// version, in one code-server run (each run costs seconds of Node start-up), and leaves
// every other extension alone. With nothing to do it does not start code-server at all.
// extra are more VSIX files to treat as builtin (the codehub extension), after builtinDir's.
func SyncExtensions(ctx context.Context, codeServer, builtinDir, extDir, userDataDir, stateDir string, extra ...string) (ExtensionSync, error) {
	var res ExtensionSync
	builtin, err := BuiltinExtensions(builtinDir)
	if err != nil {
		return res, err
	}
	for _, path := range extra {
		p, err := readVSIXManifest(path)
		if err != nil {
			return res, fmt.Errorf("extension %s: %w", path, err)
		}
		builtin = append(builtin, Extension{ID: p.id(), Version: p.Version, VSIX: path})
	}
	if len(builtin) == 0 {
		return res, nil
	}
	installed, err := InstalledExtensions(extDir)
	if err != nil {
		return res, err
	}
	pinsPath := filepath.Join(stateDir, pinsFile)
	lastPins := map[string]string{}
	if data, err := os.ReadFile(pinsPath); err == nil {
		_ = json.Unmarshal(data, &lastPins) // unreadable pins: treat every pin as changed
	}
	var todo []Extension
	for _, b := range builtin {
		have, ok := installed[b.ID]
		switch {
		case ok && have.Version == b.Version:
			res.Current++
		case ok && lastPins[b.ID] == b.Version:
			res.KeptUser = append(res.KeptUser, have)
		default:
			todo = append(todo, b)
		}
	}
	if len(todo) > 0 {
		if err := installVSIXs(ctx, codeServer, extDir, userDataDir, todo); err != nil {
			return res, err
		}
		installed, err = InstalledExtensions(extDir)
		if err != nil {
			return res, err
		}
		var missing []string
		for _, b := range todo {
			if installed[b.ID].Version != b.Version {
				missing = append(missing, b.String())
			}
		}
		if len(missing) > 0 {
			return res, fmt.Errorf("extensions dir %s: code-server reported success but %s not installed", extDir, strings.Join(missing, ", "))
		}
		res.Installed = todo
	}
	pins := map[string]string{}
	for _, b := range builtin {
		pins[b.ID] = b.Version
	}
	if !mapsEqual(pins, lastPins) {
		data, _ := json.MarshalIndent(pins, "", "  ")
		if err := os.MkdirAll(stateDir, 0o755); err != nil {
			return res, fmt.Errorf("state dir %s: %w", stateDir, unwrapPathErr(err))
		}
		if err := writeFileAtomic(pinsPath, append(data, '\n'), 0o644); err != nil {
			return res, fmt.Errorf("extension pins %s: %w", pinsPath, err)
		}
	}
	return res, nil
}

func installVSIXs(ctx context.Context, codeServer, extDir, userDataDir string, exts []Extension) error {
	args := []string{"--extensions-dir", extDir, "--user-data-dir", userDataDir}
	for _, e := range exts {
		args = append(args, "--install-extension", e.VSIX)
	}
	// --force: a changed pin may be a downgrade, which VS Code otherwise refuses.
	args = append(args, "--force")
	cmd := exec.CommandContext(ctx, codeServer, args...)
	cmd.Env = helperEnv()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("code-server %s --install-extension (%d extensions into %s): %v: %s",
			codeServer, len(exts), extDir, err, lastLine(out.String()))
	}
	return nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return l
		}
	}
	return "(no output)"
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

// EnsureExtensions makes sure every wanted extension (publisher.name[@version], as in a
// Workspace's spec.extensions) is installed in extDir. What the builtin sync already put
// there costs nothing; the rest is installed by id from code-server's extension gallery in
// one code-server run. It returns the ids it had to install and, when that failed (no
// network, unknown id), an error naming code-server's last line.
func EnsureExtensions(ctx context.Context, codeServer, extDir, userDataDir string, wanted []string) ([]string, error) {
	installed, err := InstalledExtensions(extDir)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, w := range wanted {
		id, version, _ := strings.Cut(strings.ToLower(w), "@")
		if have, ok := installed[id]; ok && (version == "" || have.Version == version) {
			continue
		}
		missing = append(missing, w)
	}
	if len(missing) == 0 {
		return nil, nil
	}
	args := []string{"--extensions-dir", extDir, "--user-data-dir", userDataDir}
	for _, m := range missing {
		args = append(args, "--install-extension", m)
	}
	cmd := exec.CommandContext(ctx, codeServer, args...)
	cmd.Env = helperEnv()
	out, err := cmd.CombinedOutput()
	if err == nil {
		// code-server exits 0 even when one of several installs failed: check the result.
		if after, ierr := InstalledExtensions(extDir); ierr == nil {
			for _, m := range missing {
				id, _, _ := strings.Cut(strings.ToLower(m), "@")
				if _, ok := after[id]; !ok {
					err = fmt.Errorf("%s missing after install", id)
					break
				}
			}
		}
	}
	if err != nil {
		return missing, fmt.Errorf("code-server --install-extension: %v: %s", err, lastLine(string(out)))
	}
	return missing, nil
}
