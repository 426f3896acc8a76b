package main

import (
	"context"
	"io"
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

	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/testkit"
)

// TestLocalSocketCodeServer runs the real codehub-init and code-server with the local
// backend's invocation (--auth password --socket <dir>/code-server.sock --socket-mode 600
// --disable-proxy, the credential in HASHED_PASSWORD): code-server answers on the socket
// only (mode 0600, no TCP listener in its whole process tree), requires the credential as
// its cookie, and has no /proxy/<port>/ route.
func TestLocalSocketCodeServer(t *testing.T) {
	codeServer := testkit.CodeServer(t)
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "codehub-init")
	testkit.GoBuild(t, bin, "./cmd/codehub-init")
	args := localSocketArgs(tmp)
	args[indexOf(args, "--code-server")+1] = codeServer
	sock := args[indexOf(args, "--socket")+1]
	must(t, os.MkdirAll(filepath.Join(tmp, "home", "project"), 0o755))
	home := filepath.Join(tmp, "home")
	credential := randomHex(t)
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_DATA_HOME=" + filepath.Join(home, ".local", "share"), "PATH=" + os.Getenv("PATH"), "HASHED_PASSWORD=" + credential}
	logFile, err := os.Create(filepath.Join(tmp, "init.log"))
	must(t, err)
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	must(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		}
	})
	logs := logReader(logFile.Name())

	client := &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	get := func(path, cookie string) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://workspace"+path, nil)
		if cookie != "" {
			req.Header.Set("Cookie", backend.CodeServerCookie+"="+cookie)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Location"), string(b)
	}
	waitHealthz(t, "/healthz answers on "+sock, func() bool { code, _, _ := get("/healthz", ""); return code == http.StatusOK }, exited, logs)

	st, err := os.Stat(sock)
	must(t, err)
	if st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v, want a socket with 0600", sock, st.Mode())
	}
	if l := tcpListeners(t, append([]int{cmd.Process.Pid}, descendants(cmd.Process.Pid)...)); len(l) > 0 {
		t.Errorf("code-server's processes listen on TCP: %v", l)
	}
	// Control: the same check sees this test's own listener.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	if l := tcpListeners(t, []int{os.Getpid()}); len(l) == 0 {
		t.Error("tcpListeners does not see a listening socket of this process")
	}
	ln.Close()
	folder := filepath.Join(tmp, "home", "project")
	for _, tc := range []struct {
		path, cookie string
		status       int
		location     string
	}{
		{"/", "", 302, "./login"},
		{"/", randomHex(t), 302, "./login"},
		{"/", credential, 302, "./?folder=" + folder},
		{"/proxy/1/", credential, 403, ""}, // --disable-proxy
		{"/absproxy/1/", credential, 403, ""},
	} {
		code, loc, body := get(tc.path, tc.cookie)
		if code != tc.status || loc != tc.location {
			t.Errorf("GET %s (cookie %.8q): %d %q, want %d %q\n%.200s", tc.path, tc.cookie, code, loc, tc.status, tc.location, body)
		}
	}
	if code, _, body := get("/?folder="+folder, credential); code != 200 || !strings.Contains(body, "vscode-workbench-web-configuration") {
		t.Errorf("workbench with the credential over the socket: %d %.200s", code, body)
	}
}

// tcpListeners returns the TCP sockets in LISTEN state that any of the processes holds.
func tcpListeners(t *testing.T, pids []int) []string {
	t.Helper()
	inodes := map[string]int{}
	for _, pid := range pids {
		fds, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
		for _, fd := range fds {
			if link, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/" + fd.Name()); err == nil && strings.HasPrefix(link, "socket:[") {
				inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = pid
			}
		}
	}
	if len(inodes) == 0 {
		t.Fatal("no sockets at all in code-server's processes: cannot check for TCP listeners")
	}
	var out []string
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(table)
		must(t, err)
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			// sl local rem st tx:rx tr:when retrnsmt uid timeout inode
			if len(f) > 9 && f[3] == "0A" {
				if pid, ok := inodes[f[9]]; ok {
					out = append(out, "pid "+strconv.Itoa(pid)+" listens on "+f[1])
				}
			}
		}
	}
	return out
}
