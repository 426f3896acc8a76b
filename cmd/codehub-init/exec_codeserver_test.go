package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/codehub-dev/codehub/internal/testkit"
)

// The built binary execs the real code-server in its own process, so the process the local
// backend started *is* code-server: it answers /healthz and a SIGTERM to it stops code-server.
func TestExecsCodeServer(t *testing.T) {
	codeServer := testkit.CodeServer(t)
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "codehub-init")
	testkit.GoBuild(t, bin, "./cmd/codehub-init")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	must(t, l.Close())

	args := localBackendArgs(tmp)
	args[indexOf(args, "--code-server")+1] = codeServer
	args[indexOf(args, "--bind-addr")+1] = "127.0.0.1:" + strconv.Itoa(port)
	must(t, os.MkdirAll(filepath.Join(tmp, "home", "project"), 0o755))
	home := filepath.Join(tmp, "home")
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_DATA_HOME=" + filepath.Join(home, ".local", "share"), "PATH=" + os.Getenv("PATH")}
	// A file, not a pipe: code-server's children inherit stdout, and Wait would block on a
	// pipe until the last of them exits.
	logFile, err := os.Create(filepath.Join(tmp, "init.log"))
	must(t, err)
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	must(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		// code-server's helper processes share the group; none may outlive the test.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		}
	})
	logs := logReader(filepath.Join(tmp, "init.log"))

	client := &http.Client{Timeout: 2 * time.Second}
	waitHealthz(t, "/healthz answers", func() bool { return healthy(client, "http://127.0.0.1:"+strconv.Itoa(port)+"/healthz") }, exited, logs)

	// Same PID, now running code-server's Node entry point: nothing wraps it.
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/cmdline")
	must(t, err)
	if !strings.Contains(string(cmdline), "code-server") || strings.Contains(string(cmdline), "codehub-init") {
		t.Fatalf("pid %d runs %q, want code-server itself", cmd.Process.Pid, strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	if !strings.Contains(logs.String(), "codehub-init: prepared in") {
		t.Errorf("no prepare log:\n%s", logs.String())
	}

	must(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("code-server did not stop on SIGTERM within 60s\n%s", logs.String())
	}
}

// waitHealthz polls healthy until it is true, as a started code-server's /healthz is
// within 90 s. It fails at once when the process exits first; either failure shows logs.
func waitHealthz(t *testing.T, what string, healthy func() bool, exited <-chan error, logs fmt.Stringer) {
	t.Helper()
	testkit.Eventually(t, 90*time.Second, what, func() error {
		select {
		case err := <-exited:
			t.Fatalf("exited before %s: %v\n%s", what, err, logs.String())
		default:
		}
		if healthy() {
			return nil
		}
		return notYet{logs}
	})
}

// notYet is waitHealthz's error; it reads the logs only when the wait has failed.
type notYet struct{ logs fmt.Stringer }

func (e notYet) Error() string { return "no answer yet; logs:\n" + e.logs.String() }

// healthy says whether a GET of url answers 200.
func healthy(c *http.Client, url string) bool {
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

type logReader string

func (p logReader) String() string {
	b, _ := os.ReadFile(string(p))
	return string(b)
}
