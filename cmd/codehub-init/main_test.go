package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/codehub-dev/codehub/internal/wsinit"
)

// The local backend's exact invocation: offline, no ServiceAccount, nothing builtin.
// localBackendArgs is the local backend's invocation, with a fake code-server path; the
// codehub extension (installed with the builtin set by default) is left out, since that
// install runs code-server: TestExtensionSyncWithCodeServer covers it with the real one.
func localBackendArgs(tmp string) []string {
	return []string{"--codehub-extension=false", "--code-server", "/opt/cs/code-server", "--bind-addr", "127.0.0.1:41234",
		"--home", filepath.Join(tmp, "home"), "--state-dir", filepath.Join(tmp, "state"),
		"--folder", filepath.Join(tmp, "home", "project"), "--serviceaccount-dir", filepath.Join(tmp, "nonexistent"),
		"--builtin-extensions-dir", filepath.Join(tmp, "builtin"), "--conda-envs-dirs", filepath.Join(tmp, "envs"),
		"--conda-base", filepath.Join(tmp, "conda"), "--reconnection-grace-time", "30"}
}

func TestLocalBackendExec(t *testing.T) {
	tmp := t.TempDir()
	var stdout, stderr bytes.Buffer
	var execed []string
	code := run(localBackendArgs(tmp), func(string) string { return "" }, &stdout, &stderr, func(argv []string) error {
		execed = argv
		return nil
	})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	want := []string{"/opt/cs/code-server", "--bind-addr", "127.0.0.1:41234", "--auth", "none",
		"--user-data-dir", filepath.Join(tmp, "state", "user-data"), "--extensions-dir", filepath.Join(tmp, "state", "extensions"),
		"--disable-telemetry", "--disable-update-check", "--disable-workspace-trust", "--reconnection-grace-time", "30",
		filepath.Join(tmp, "home", "project")}
	if !slices.Equal(execed, want) {
		t.Fatalf("exec argv\n got %q\nwant %q", execed, want)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout = %q, want nothing outside --dry-run", stdout.String())
	}
	if !strings.Contains(stderr.String(), "kubeconfig: skipped, no ServiceAccount dir") || strings.Contains(stderr.String(), "warning") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
	for _, f := range []string{"state/user-data/User/settings.json", "home/.condarc"} {
		if _, err := os.Stat(filepath.Join(tmp, f)); err != nil {
			t.Error(err)
		}
	}
}

func TestDryRunPrintsCommandLine(t *testing.T) {
	tmp := t.TempDir()
	var stdout, stderr bytes.Buffer
	args := append(localBackendArgs(tmp), "--dry-run", "--", "--log", "debug")
	code := run(args, func(string) string { return "" }, &stdout, &stderr, func([]string) error {
		t.Fatal("--dry-run must not exec")
		return nil
	})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	got := strings.TrimSpace(stdout.String())
	if !strings.HasPrefix(got, "/opt/cs/code-server --bind-addr 127.0.0.1:41234 --auth none") ||
		!strings.HasSuffix(got, "--log debug "+filepath.Join(tmp, "home", "project")) {
		t.Fatalf("dry-run printed %q", got)
	}
}

// Failures are one line naming the file; the workspace still starts.
func TestUnwritableHomeAndMalformedSettings(t *testing.T) {
	tmp := t.TempDir()
	if err := os.WriteFile(filepath.Join(tmp, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	settings := filepath.Join(tmp, "state", "user-data", "User", "settings.json")
	if err := os.MkdirAll(filepath.Dir(settings), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(settings, []byte("{ broken"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := localBackendArgs(tmp)
	args[slices.Index(args, "--home")+1] = filepath.Join(tmp, "file", "home")
	var stdout, stderr bytes.Buffer
	code := run(append(args, "--dry-run"), func(string) string { return "" }, &stdout, &stderr, nil)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var warnings []string
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(l, "warning") {
			warnings = append(warnings, l)
		}
	}
	if len(warnings) != 2 || !strings.Contains(warnings[0], "home "+filepath.Join(tmp, "file", "home")) ||
		!strings.Contains(warnings[1], settings+": malformed, kept as is") {
		t.Fatalf("want one warning naming the home and one naming settings.json, got:\n%s", stderr.String())
	}
	if b, _ := os.ReadFile(settings); string(b) != "{ broken" {
		t.Fatal("malformed settings were rewritten")
	}
}

// localSocketArgs is the local backend's invocation with a unix socket and the per-workspace
// credential (the contract with internal/backend/local: these flag names exactly).
func localSocketArgs(tmp string) []string {
	args := localBackendArgs(tmp)
	i := indexOf(args, "--bind-addr")
	args = append(args[:i:i], args[i+2:]...)
	return append(args, "--auth", "password", "--socket", filepath.Join(tmp, "code-server.sock"),
		"--socket-mode", "600", "--disable-proxy")
}

// TestDryRunTable: what each combination of the listen/auth flags makes of code-server's
// command line, and that the credential never appears on it.
func TestDryRunTable(t *testing.T) {
	tmp := t.TempDir()
	const cred = "5f2b0c9e7a4d1e3f5f2b0c9e7a4d1e3f5f2b0c9e7a4d1e3f5f2b0c9e7a4d1e3f"
	withCred := func(k string) string { return map[string]string{"HASHED_PASSWORD": cred}[k] }
	tail := " --user-data-dir " + filepath.Join(tmp, "state", "user-data") + " --extensions-dir " + filepath.Join(tmp, "state", "extensions") +
		" --disable-telemetry --disable-update-check --disable-workspace-trust --reconnection-grace-time 30 " + filepath.Join(tmp, "home", "project")
	for _, tc := range []struct {
		name string
		args []string
		env  func(string) string
		want string
	}{
		{"tcp-none", localBackendArgs(tmp), func(string) string { return "" },
			"/opt/cs/code-server --bind-addr 127.0.0.1:41234 --auth none" + tail},
		{"tcp-password", append(localBackendArgs(tmp), "--auth", "password"), withCred,
			"/opt/cs/code-server --bind-addr 127.0.0.1:41234 --auth password" + tail},
		{"socket-password-no-proxy", localSocketArgs(tmp), withCred,
			"/opt/cs/code-server --socket " + filepath.Join(tmp, "code-server.sock") + " --socket-mode 600 --auth password --disable-proxy" + tail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(append(tc.args, "--dry-run"), tc.env, &stdout, &stderr, nil); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			if got := strings.TrimSpace(stdout.String()); got != tc.want {
				t.Fatalf("dry-run printed\n %s\nwant\n %s", got, tc.want)
			}
			if strings.Contains(stdout.String()+stderr.String(), cred) {
				t.Fatal("the credential appears in codehub-init's output")
			}
		})
	}
}

// TestAuthPasswordNeedsCredential: --auth password without $HASHED_PASSWORD is a usage
// error (exit 2) naming the variable, before anything is prepared or executed.
func TestAuthPasswordNeedsCredential(t *testing.T) {
	tmp := t.TempDir()
	for name, args := range map[string][]string{
		"socket": localSocketArgs(tmp),
		"tcp":    append(localBackendArgs(tmp), "--auth", "password"),
	} {
		var stdout, stderr bytes.Buffer
		code := run(args, func(string) string { return "" }, &stdout, &stderr, func([]string) error {
			t.Fatal("exec without a credential")
			return nil
		})
		if code != 2 || !strings.Contains(stderr.String(), "$HASHED_PASSWORD is empty or unset") {
			t.Errorf("%s: exit %d, stderr %q; want 2 and a message naming $HASHED_PASSWORD", name, code, stderr.String())
		}
		if _, err := os.Stat(filepath.Join(tmp, "state")); !os.IsNotExist(err) {
			t.Errorf("%s: state dir prepared before the usage error (%v)", name, err)
		}
	}
	var stderr bytes.Buffer
	args := append(localSocketArgs(tmp), "--bind-addr", "127.0.0.1:1")
	if code := run(args, func(string) string { return "x" }, &bytes.Buffer{}, &stderr, nil); code != 2 || !strings.Contains(stderr.String(), "mutually exclusive") {
		t.Errorf("--socket with --bind-addr: exit %d, %q", code, stderr.String())
	}
}

func TestBadFlagExitsWithUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--no-such-flag"}, func(string) string { return "/h" }, &stdout, &stderr, nil); code != 2 {
		t.Fatalf("exit %d", code)
	}
}

func TestMissingCodeServerIsOneLine(t *testing.T) {
	tmp := t.TempDir()
	args := localBackendArgs(tmp)
	args[slices.Index(args, "--code-server")+1] = filepath.Join(tmp, "no-code-server")
	var stdout, stderr bytes.Buffer
	if code := run(args, func(string) string { return "" }, &stdout, &stderr, wsinit.ExecCodeServer); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	last := strings.TrimSpace(stderr.String())
	last = last[strings.LastIndex(last, "\n")+1:]
	if !strings.Contains(last, filepath.Join(tmp, "no-code-server")) || !strings.Contains(last, "--code-server") {
		t.Fatalf("last line %q should name the launcher and the flag", last)
	}
}
