package testkit

// The real components that tests run against. `make test` (scripts/test.sh) installs them
// and exports their paths; a test that needs one and does not find it fails with a message
// saying how to get it. The one exception is the fast lane, `make test-unit` (go test
// -short): there every test that needs a real component is skipped at the point it asks
// for it, and `make test` runs it.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func fromEnv(t testing.TB, env, hint string, check func(string) bool) string {
	t.Helper()
	SkipInShort(t, env)
	v := os.Getenv(env)
	if v == "" || !check(v) {
		t.Fatalf("%s is not set to a usable path (%q): run `make test`, or %s", env, v, hint)
	}
	return v
}

// SkipInShort skips t in the fast lane (go test -short, `make test-unit`): it needs the
// real component named by what, which only `make test` installs and runs.
func SkipInShort(t testing.TB, what string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("needs a real component (%s): run by make test, not the -short fast lane", what)
	}
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// CodeServer returns the path of a real code-server launcher.
func CodeServer(t testing.TB) string {
	return fromEnv(t, "CODEHUB_CODE_SERVER", "set it to the output of scripts/install-code-server.sh", isExecutable)
}

// Chromium returns the path of a real Chromium for browser tests.
func Chromium(t testing.TB) string {
	SkipInShort(t, "CODEHUB_CHROMIUM")
	if os.Getenv("CODEHUB_CHROMIUM") == "" {
		if p, err := exec.LookPath("chromium"); err == nil {
			return p
		}
	}
	return fromEnv(t, "CODEHUB_CHROMIUM", "run scripts/install-chromium.sh", isExecutable)
}

// KubebuilderAssets returns the directory with etcd, kube-apiserver and kubectl, as
// envtest expects in KUBEBUILDER_ASSETS.
func KubebuilderAssets(t testing.TB) string {
	return fromEnv(t, "KUBEBUILDER_ASSETS", "set it to the output of scripts/install-control-plane.sh", func(d string) bool {
		return isExecutable(filepath.Join(d, "kube-apiserver")) && isExecutable(filepath.Join(d, "etcd"))
	})
}

// Helm returns the path of a helm binary built by scripts/install-helm.sh.
func Helm(t testing.TB) string {
	return fromEnv(t, "CODEHUB_HELM", "set it to the output of scripts/install-helm.sh", isExecutable)
}

// RepoRoot returns the repository root (the directory holding go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

// TraversableTempDir is t.TempDir() made searchable by every unix user (t.TempDir's parent
// is 0700), for tests whose workspaces run as their own uids and must reach their files.
func TraversableTempDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// GoBuild builds the module's packages (paths like ./cmd/codehub-init) into out: a file
// for one package, a directory ending in "/" for several.
func GoBuild(t testing.TB, out string, pkgs ...string) {
	t.Helper()
	build := exec.Command("go", append([]string{"build", "-o", out}, pkgs...)...)
	build.Dir = RepoRoot(t)
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", strings.Join(pkgs, " "), err, b)
	}
}

// PythonServerAs runs a python3 program as uid (its own group, no supplementary groups)
// that prints the port it listens on as its first output, and returns that port; the
// program is killed when the test ends. Tests use it for what a user's shell could start.
func PythonServerAs(t testing.TB, uid int, program string, args ...string) int {
	t.Helper()
	cmd := exec.Command("/usr/bin/python3", append([]string{"-c", program}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid), NoSetGroups: true}}
	cmd.Dir = "/"
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var port int
	if _, err := fmt.Fscan(out, &port); err != nil {
		t.Fatalf("python3 server as uid %d: no port printed: %v", uid, err)
	}
	return port
}
