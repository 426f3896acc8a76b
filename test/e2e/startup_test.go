package e2e

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/testkit"
)

// TestStartupErrors checks that bad setups end with one clear line and a non-zero exit.
func TestStartupErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	notADir := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notADir, []byte("x"), 0o600)
	oldCS := filepath.Join(t.TempDir(), "old-code-server")
	os.WriteFile(oldCS, []byte("#!/bin/sh\necho '4.90.3 abc with Code 1.90'\n"), 0o755)
	brokenCS := filepath.Join(t.TempDir(), "broken-code-server")
	os.WriteFile(brokenCS, []byte("#!/bin/sh\nexit 3\n"), 0o755)
	cs := testkit.CodeServer(t)

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"port in use", []string{"--listen", busy.Addr().String(), "--code-server", cs}, "address already in use"},
		{"missing code-server", []string{"--code-server", "/nonexistent/code-server"}, "code-server not found"},
		{"code-server too old", []string{"--code-server", oldCS}, "unsupported"},
		{"code-server broken", []string{"--code-server", brokenCS}, "does not run"},
		{"state dir is a file", []string{"--state-dir", notADir, "--code-server", cs}, "state dir"},
		{"bad duration", []string{"--idle-timeout", "soon", "--code-server", cs}, "invalid argument"},
		{"unknown flag", []string{"--no-such-flag"}, "unknown flag"},
		{"tls cert without key", []string{"--tls-cert", "/tmp/x.pem", "--code-server", cs}, "--tls-cert and --tls-key"},
		{"header auth trusting this host", []string{"--code-server", cs, "--auth", "header", "--header-trusted-cidrs", "127.0.0.1/32"}, "an address of this host"},
		{"header auth trusting a range with this host", []string{"--code-server", cs, "--auth", "header", "--header-trusted-cidrs", "10.0.0.0/8,127.0.0.0/8"}, "an address of this host"},
		{"shared unix user as root", []string{"--code-server", cs, "--shared-unix-user"}, "--shared-unix-user is for"},
		{"trusted proxies everything", []string{"--code-server", cs, "--trusted-proxies", "0.0.0.0/0"}, "trusts every address"},
		{"state dir workspace uids cannot reach", []string{"--code-server", cs, "--state-dir", filepath.Join(t.TempDir(), "state")}, "workspace users cannot reach"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"serve", "--metrics-listen", "", "--listen", "127.0.0.1:0"}
			if !contains(tt.args, "--state-dir") {
				args = append(args, "--state-dir", t.TempDir())
			}
			cmd := exec.Command(codehubBinary(t), append(args, tt.args...)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			exitErr, ok := err.(*exec.ExitError)
			if !ok || exitErr.ExitCode() == 0 {
				t.Fatalf("exit: %v, want a non-zero exit", err)
			}
			msg := strings.TrimSpace(stderr.String())
			if !strings.Contains(msg, tt.want) {
				t.Fatalf("stderr %q does not say %q", msg, tt.want)
			}
			if !strings.Contains(tt.name, "flag") && strings.Count(msg, "\n") > 0 {
				t.Fatalf("want one line, got:\n%s", msg)
			}
		})
	}
}

// TestFirstAdminPasswordFile: the first start creates "admin" with its password in a 0600
// file and, with stdout not a terminal (systemd, a container: stdout is the log), prints
// only that file's path.
func TestFirstAdminPasswordFile(t *testing.T) {
	state := testkit.TraversableTempDir(t)
	g := startGateway(t, state)
	file := filepath.Join(state, "initial-admin-password")
	st, err := os.Stat(file)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("password file: %v %v", st, err)
	}
	pw, _ := os.ReadFile(file)
	password := strings.TrimSpace(string(pw))
	if len(password) < 16 {
		t.Fatalf("password %d characters", len(password))
	}
	eventually(t, 10*time.Second, "the start-up message", func() bool { return strings.Contains(g.Stdout.String(), file) })
	if out := g.Stdout.String() + g.Stderr.String(); strings.Contains(out, password) {
		t.Fatal("the first admin's password was printed or logged with stdout not a terminal")
	}
	b := newBrowser(t, g.URL)
	b.login(t, "admin", password)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestOrphansStoppedAtStart plants a process that looks like a workspace left behind by
// a crashed gateway (pid file + the workspace dir on its command line) and one unrelated
// process named by a stale pid file: the first is stopped, the second left alone.
func TestOrphansStoppedAtStart(t *testing.T) {
	state := testkit.TraversableTempDir(t)
	wsDir := filepath.Join(state, "workspaces", identity.WorkspaceName("alice"))
	otherDir := filepath.Join(state, "workspaces", identity.WorkspaceName("bob"))
	for _, d := range []string{wsDir, otherDir} {
		os.MkdirAll(d, 0o700)
	}
	orphan := exec.Command("/bin/sh", "-c", "while :; do sleep 1; done", wsDir)
	orphan.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	unrelated := exec.Command("/bin/sh", "-c", "while :; do sleep 1; done")
	unrelated.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	for _, c := range []*exec.Cmd{orphan, unrelated} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		go c.Wait()
	}
	t.Cleanup(func() {
		syscall.Kill(-orphan.Process.Pid, syscall.SIGKILL)
		syscall.Kill(-unrelated.Process.Pid, syscall.SIGKILL)
	})
	os.WriteFile(filepath.Join(wsDir, "code-server.pid"), []byte(fmt.Sprint(orphan.Process.Pid)), 0o600)
	os.WriteFile(filepath.Join(otherDir, "code-server.pid"), []byte(fmt.Sprint(unrelated.Process.Pid)), 0o600)

	startGateway(t, state, "--idle-timeout", "0")
	eventually(t, 30*time.Second, "the orphan to be stopped", func() bool { return !alive(orphan.Process.Pid) })
	if !alive(unrelated.Process.Pid) {
		t.Fatal("an unrelated process named by a stale pid file was killed")
	}
}
