package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codehub-dev/codehub/internal/testkit"
)

// TestSpecExtensions: ids a Workspace asks for (spec.extensions → --extensions) are
// satisfied by the builtin set without any install; an id that must come from the
// gallery (unreachable here) is one warning naming it, and the workspace still starts.
func TestSpecExtensions(t *testing.T) {
	codeServer := testkit.CodeServer(t)
	tmp := t.TempDir()
	home := filepath.Join(tmp, "home")
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(home, ".local", "share"))
	builtin := filepath.Join(tmp, "builtin")
	writeVSIX(t, filepath.Join(builtin, "10-codehubtest.alpha.vsix"), "codehubtest", "alpha", "1.0.0")

	base := localBackendArgs(tmp)
	base[indexOf(base, "--code-server")+1] = codeServer
	base = append(base, "--dry-run")
	runWith := func(extensions string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run(append(append([]string{}, base...), "--extensions", extensions), os.Getenv, &stdout, &stderr, nil); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		return stderr.String()
	}
	if out := runWith("CodehubTest.Alpha, codehubtest.alpha@1.0.0"); strings.Contains(out, "warning") || strings.Contains(out, "from the gallery") {
		t.Fatalf("builtin ids were not recognised as installed:\n%s", out)
	}
	out := runWith("codehubtest.alpha,nosuchpublisher.nosuchextension")
	if !strings.Contains(out, "warning: extensions: nosuchpublisher.nosuchextension not installed") {
		t.Fatalf("missing gallery extension: want one warning naming it:\n%s", out)
	}

	var stderr bytes.Buffer
	if code := run(append(append([]string{}, base...), "--extensions", "not-an-id"), os.Getenv, &bytes.Buffer{}, &stderr, nil); code == 0 || !strings.Contains(stderr.String(), "publisher.name") {
		t.Fatalf("malformed id: exit %d, %s", code, stderr.String())
	}
}
