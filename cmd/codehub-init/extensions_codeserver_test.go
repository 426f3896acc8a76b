package main

import (
	"archive/zip"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/codehub-dev/codehub/internal/codehubext"
	"github.com/codehub-dev/codehub/internal/testkit"
)

// writeVSIX builds the smallest VSIX code-server installs offline.
func writeVSIX(t *testing.T, path, publisher, name, version string) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	files := map[string]string{
		"extension/package.json": fmt.Sprintf(`{"name":%q,"publisher":%q,"version":%q,"engines":{"vscode":"^1.60.0"},"main":"./extension.js"}`,
			name, publisher, version),
		"extension/extension.js": "exports.activate = function () {};\n",
	}
	for _, n := range []string{"extension/package.json", "extension/extension.js"} {
		w, err := zw.Create(n)
		must(t, err)
		_, err = w.Write([]byte(files[n]))
		must(t, err)
	}
	must(t, zw.Close())
	must(t, os.MkdirAll(filepath.Dir(path), 0o755))
	must(t, os.WriteFile(path, buf.Bytes(), 0o644))
}

// The pinned builtin set and the codehub extension (compiled into codehub-init) are
// installed by the real code-server, upgraded when a pin changes, and never disturb an
// extension the user installed or a version the user chose.
func TestExtensionSyncWithCodeServer(t *testing.T) {
	codeServer := testkit.CodeServer(t)
	tmp := t.TempDir()
	home := filepath.Join(tmp, "home")
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(home, ".local", "share"))
	builtin := filepath.Join(tmp, "builtin")
	extDir := filepath.Join(tmp, "state", "extensions")
	userData := filepath.Join(tmp, "state", "user-data")
	writeVSIX(t, filepath.Join(builtin, "10-codehubtest.alpha.vsix"), "codehubtest", "alpha", "1.0.0")
	writeVSIX(t, filepath.Join(builtin, "20-codehubtest.beta.vsix"), "codehubtest", "beta", "1.0.0")

	args := localBackendArgs(tmp)[1:] // with the codehub extension, as the local backend runs it
	args[indexOf(args, "--code-server")+1] = codeServer
	args = append(args, "--dry-run")
	m, err := codehubext.Read()
	must(t, err)
	codehub := m.ID() + "@" + m.Version
	initRun := func() string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run(args, os.Getenv, &stdout, &stderr, nil); code != 0 {
			t.Fatalf("codehub-init exit %d: %s", code, stderr.String())
		}
		if strings.Contains(stderr.String(), "warning") {
			t.Fatalf("codehub-init warned:\n%s", stderr.String())
		}
		for _, l := range strings.Split(stderr.String(), "\n") {
			if strings.Contains(l, "extensions:") {
				return l
			}
		}
		t.Fatalf("no extensions line in:\n%s", stderr.String())
		return ""
	}
	codeServerCmd := func(extra ...string) []string {
		t.Helper()
		cmd := exec.Command(codeServer, append([]string{"--extensions-dir", extDir, "--user-data-dir", userData}, extra...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("code-server %v: %v\n%s", extra, err, out)
		}
		var lines []string
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "@") {
				lines = append(lines, strings.TrimSpace(l))
			}
		}
		return lines
	}
	list := func() []string { return codeServerCmd("--list-extensions", "--show-versions") }
	expect := func(want ...string) {
		t.Helper()
		if got := list(); !slices.Equal(got, want) {
			t.Fatalf("code-server --list-extensions --show-versions = %q, want %q", got, want)
		}
	}

	if l := initRun(); !strings.Contains(l, "3 installed, 0 current") {
		t.Fatalf("first start: %s", l)
	}
	expect(codehub, "codehubtest.alpha@1.0.0", "codehubtest.beta@1.0.0")

	// The user installs an extension of their own.
	writeVSIX(t, filepath.Join(tmp, "user", "mine.vsix"), "someone", "mine", "0.1.0")
	codeServerCmd("--install-extension", filepath.Join(tmp, "user", "mine.vsix"))

	// Warm start: everything current, code-server is not even started for the sync.
	if l := initRun(); !strings.Contains(l, "0 installed, 3 current") {
		t.Fatalf("warm start: %s", l)
	}

	// A new image pins alpha 1.1.0: upgraded; beta and the user's extension untouched.
	must(t, os.Remove(filepath.Join(builtin, "10-codehubtest.alpha.vsix")))
	writeVSIX(t, filepath.Join(builtin, "10-codehubtest.alpha.vsix"), "codehubtest", "alpha", "1.1.0")
	if l := initRun(); !strings.Contains(l, "1 installed, 2 current") {
		t.Fatalf("after pin change: %s", l)
	}
	expect(codehub, "codehubtest.alpha@1.1.0", "codehubtest.beta@1.0.0", "someone.mine@0.1.0")

	// The user picks another beta version themselves; the pin did not change, so theirs stays.
	writeVSIX(t, filepath.Join(tmp, "user", "beta-2.vsix"), "codehubtest", "beta", "2.0.0")
	codeServerCmd("--install-extension", filepath.Join(tmp, "user", "beta-2.vsix"))
	if l := initRun(); !strings.Contains(l, "0 installed, 2 current, kept user's codehubtest.beta@2.0.0") {
		t.Fatalf("after user's own upgrade: %s", l)
	}
	expect(codehub, "codehubtest.alpha@1.1.0", "codehubtest.beta@2.0.0", "someone.mine@0.1.0")

	// A broken builtin VSIX is one warning naming the file; the workspace still starts.
	must(t, os.WriteFile(filepath.Join(builtin, "30-broken.vsix"), []byte("not a zip"), 0o644))
	var stdout, stderr bytes.Buffer
	if code := run(args, os.Getenv, &stdout, &stderr, nil); code != 0 || stdout.Len() == 0 {
		t.Fatalf("exit %d, stdout %q", code, stdout.String())
	}
	if !strings.Contains(stderr.String(), "warning: extensions: builtin extension "+filepath.Join(builtin, "30-broken.vsix")+": not a VSIX zip") {
		t.Fatalf("stderr:\n%s", stderr.String())
	}
}
