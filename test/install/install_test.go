// Package install proves every install script works from nothing: a green run on a machine
// whose cache already holds a component can hide a missing install step (issue #10: a second
// `npm install` into the same prefix removed the first linter, and only a cache left over from
// an older layout made CI pass). Cheap scripts run here with CODEHUB_CACHE pointed at a new
// empty directory; expensive ones have their completeness check tested against a damaged copy
// of the real cached install.
package install

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/codehub-dev/codehub/internal/testkit"
)

// cheap scripts take well under a minute with warm Go/npm download caches: each runs here from
// an empty CODEHUB_CACHE. outputs are files under the printed path that must exist afterwards.
var cheap = []struct {
	script  string
	outputs []string
	// damage is a file under the printed path whose loss the script must notice and repair.
	damage string
}{
	{"install-node.sh", []string{"bin/node", "include/node/node.h"}, "include/node/node_api.h"},
	{"install-npm-tools.sh", []string{"dockerfile-utils", "dockerfilelint", "configurable-http-proxy"}, "../dockerfilelint/package.json"},
	{"install-controller-gen.sh", []string{""}, ""},
	{"install-staticcheck.sh", []string{""}, ""},
}

// checks are the check-*.sh scripts; each installs what it needs and must pass from nothing.
var checks = []string{"check-dockerfile.sh", "check-chart-crd.sh", "check-generated.sh"}

// expensive scripts build for minutes; make test runs them first (scripts/test.sh). Here their
// --check is shown to reject a cache entry with one produced file gone. env names the variable
// test.sh exports with the script's output.
var expensive = []struct {
	script, env string
	// victim is the file removed from the copy, relative to the cache entry: the printed
	// directory, or the directory of the printed file.
	victim string
	// deps name the variables of other cache entries the script's check reads (its inputs):
	// they are copied along.
	deps []string
}{
	{"install-code-server.sh", "CODEHUB_CODE_SERVER", "lib/node_modules/code-server/lib/vscode/package.json", nil},
	{"install-control-plane.sh", "KUBEBUILDER_ASSETS", "kubelet", nil},
	{"install-helm.sh", "CODEHUB_HELM", "helm", nil},
	{"build-images.sh", "CODEHUB_IMAGES", "gateway.tar", []string{"CODEHUB_CODE_SERVER", "KUBEBUILDER_ASSETS"}},
}

// system scripts install Debian packages, not into the cache.
var system = []string{"install-chromium.sh", "install-container-tools.sh"}

// TestEveryScriptIsClassified fails when a new install or check script is added without
// deciding how this package proves it works from nothing.
func TestEveryScriptIsClassified(t *testing.T) {
	known := slices.Concat(checks, system)
	for _, c := range cheap {
		known = append(known, c.script)
	}
	for _, e := range expensive {
		known = append(known, e.script)
	}
	for _, pattern := range []string{"install-*.sh", "build-*.sh", "check-*.sh"} {
		found, _ := filepath.Glob(filepath.Join(scriptsDir(t), pattern))
		for _, f := range found {
			if !slices.Contains(known, filepath.Base(f)) {
				t.Errorf("%s is not covered by test/install: add it to cheap, checks, expensive or system", filepath.Base(f))
			}
		}
	}
}

func TestCheapInstallsFromEmptyCache(t *testing.T) {
	testkit.SkipInShort(t, "the npm registry and the Go module proxy")
	for _, c := range cheap {
		t.Run(c.script, func(t *testing.T) {
			cache := t.TempDir()
			out, stderr := run(t, cache, c.script)
			for _, o := range c.outputs {
				p := filepath.Join(out, o)
				if st, err := os.Stat(p); err != nil || st.Size() == 0 {
					t.Errorf("%s from an empty cache: %s missing or empty (stderr:\n%s)", c.script, p, stderr)
				}
			}
			if again, stderr := run(t, cache, c.script); again != out || stderr != "" {
				t.Errorf("second run reinstalled or moved: %q vs %q, stderr:\n%s", again, out, stderr)
			}
			if _, _, err := runErr(t, cache, c.script, "--check"); err != nil {
				t.Errorf("--check after install: %v", err)
			}
			if c.damage == "" {
				return
			}
			victim := filepath.Join(out, c.damage)
			if err := os.Remove(victim); err != nil {
				t.Fatal(err)
			}
			if _, stderr, err := runErr(t, cache, c.script, "--check"); err == nil {
				t.Errorf("--check passed with %s gone", victim)
			} else if !strings.Contains(stderr, filepath.Base(filepath.Dir(c.damage))) && !strings.Contains(stderr, filepath.Base(c.damage)) {
				t.Errorf("--check does not name what is missing: %s", stderr)
			}
			run(t, cache, c.script)
			if _, err := os.Stat(victim); err != nil {
				t.Errorf("rerun did not repair %s", victim)
			}
		})
	}
}

func TestChecksFromEmptyCache(t *testing.T) {
	testkit.SkipInShort(t, "the npm registry and the Go module proxy")
	for _, c := range checks {
		t.Run(c, func(t *testing.T) {
			if _, stderr, err := runErr(t, t.TempDir(), c); err != nil {
				t.Errorf("%s from an empty cache: %v\n%s", c, err, stderr)
			}
		})
	}
}

// TestExpensiveChecksSeeDamage copies (hard links) the real cached install into a new cache,
// removes one file the script produced, and expects --check to refuse it: a half-populated
// cache is rebuilt, never trusted because some marker exists.
func TestExpensiveChecksSeeDamage(t *testing.T) {
	for _, e := range expensive {
		t.Run(e.script, func(t *testing.T) {
			testkit.SkipInShort(t, e.env)
			printed := os.Getenv(e.env)
			if printed == "" {
				t.Fatalf("%s is not set: run make test (scripts/test.sh installs it first)", e.env)
			}
			real := os.Getenv("CODEHUB_CACHE")
			if real == "" {
				real = filepath.Join(os.Getenv("HOME"), ".cache", "codehub")
			}
			cache := t.TempDir()
			copyEntry := copyCacheEntry(t, real, cache, e.env)
			for _, dep := range e.deps {
				copyCacheEntry(t, real, cache, dep)
			}
			if _, stderr, err := runErr(t, cache, e.script, "--check"); err != nil {
				t.Fatalf("--check of an intact copy failed: %v\n%s", err, stderr)
			}
			victim := filepath.Join(copyEntry, e.victim)
			if err := os.Remove(victim); err != nil { // unlinks the copy's link only
				t.Fatal(err)
			}
			_, stderr, err := runErr(t, cache, e.script, "--check")
			if err == nil {
				t.Fatalf("--check passed with %s removed", victim)
			}
			if !strings.Contains(stderr, filepath.Base(e.victim)) {
				t.Errorf("--check does not name the missing file %s: %s", e.victim, stderr)
			}
		})
	}
}

// copyCacheEntry hard-links the cache entry named by the variable env (the printed directory,
// or the directory of the printed file) from the cache real into the cache dst, at the same
// relative path, and returns the copy's path.
func copyCacheEntry(t *testing.T, real, dst, env string) string {
	t.Helper()
	printed := os.Getenv(env)
	if printed == "" {
		t.Fatalf("%s is not set: run make test (scripts/test.sh installs it first)", env)
	}
	entry := printed
	if st, err := os.Stat(printed); err == nil && !st.IsDir() {
		entry = filepath.Dir(printed)
	}
	rel, err := filepath.Rel(real, entry)
	if err != nil || strings.HasPrefix(rel, "..") {
		t.Fatalf("%s=%s is not under CODEHUB_CACHE=%s", env, printed, real)
	}
	copyEntry := filepath.Join(dst, rel)
	if err := os.MkdirAll(filepath.Dir(copyEntry), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-al", entry, copyEntry).CombinedOutput(); err != nil {
		t.Fatalf("cp -al: %v\n%s", err, out)
	}
	return copyEntry
}

func scriptsDir(t *testing.T) string {
	return filepath.Join(testkit.RepoRoot(t), "scripts")
}

// scriptTimeout bounds one script run (a cheap install is seconds; a hung npm is not).
const scriptTimeout = 10 * time.Minute

func run(t *testing.T, cache, script string, args ...string) (stdout, stderr string) {
	t.Helper()
	out, errOut, err := runErr(t, cache, script, args...)
	if err != nil {
		t.Fatalf("%s %v with CODEHUB_CACHE=%s: %v\n%s", script, args, cache, err, errOut)
	}
	return out, errOut
}

// runErr runs a script with CODEHUB_CACHE=cache and returns its trimmed stdout and stderr.
func runErr(t *testing.T, cache, script string, args ...string) (string, string, error) {
	cmd := exec.Command(filepath.Join(scriptsDir(t), script), args...)
	cmd.Dir = testkit.RepoRoot(t)
	cmd.Env = append(os.Environ(), "CODEHUB_CACHE="+cache)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		return "", "", err
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return strings.TrimSpace(out.String()), errOut.String(), err
	case <-time.After(scriptTimeout):
		_ = cmd.Process.Kill()
		return "", errOut.String(), <-done
	}
}
