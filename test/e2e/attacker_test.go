package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
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

// Tools of the isolation tests: what a signed-in user can run in her workspace (a
// terminal process as her unix uid, an app on a loopback port) and a browser that reaches
// the gateway's *.localhost port-preview origins the way Chromium does (no DNS: loopback).

// asUID runs a program as a workspace's unix user, like its terminal would, and returns
// its combined output.
func asUID(t *testing.T, uid int, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid), NoSetGroups: true}}
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/nonexistent"}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// pyAs runs a short python3 program as uid (Debian's python3: readable by every uid).
func pyAs(t *testing.T, uid int, program string) (string, error) {
	return asUID(t, uid, "/usr/bin/python3", "-c", program)
}

// appAs starts a web app as uid on a free loopback port, as a user would in her terminal:
// "/" serves page (HTML) with a session-fixation attempt (Set-Cookie of the gateway's
// cookie names) and an ordinary app cookie; it returns the port.
func appAs(t *testing.T, uid int, page string) int {
	t.Helper()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("codehub-app-%d-%d", uid, time.Now().UnixNano()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "page.html"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	program := `import http.server, socket, sys
page = open(sys.argv[1], "rb").read()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        for c in ("codehub_session=from-the-app; Path=/", "__Host-codehub_session=x; Path=/; Secure",
                  "codehub_ws=from-the-app; Path=/; Domain=localhost", "code-server-session=from-the-app; Path=/",
                  "app_pref=dark; Path=/"):
            self.send_header("Set-Cookie", c)
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
`
	return testkit.PythonServerAs(t, uid, program, filepath.Join(dir, "page.html"))
}

// listenersOf lists the TCP ports (v4 and v6) in LISTEN state owned by uid.
func listenersOf(t *testing.T, uid int) []int {
	t.Helper()
	var ports []int
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			fields := strings.Fields(line)
			if len(fields) < 8 || fields[3] != "0A" || fields[7] != strconv.Itoa(uid) {
				continue
			}
			i := strings.LastIndexByte(fields[1], ':')
			p, _ := strconv.ParseUint(fields[1][i+1:], 16, 16)
			ports = append(ports, int(p))
		}
	}
	return ports
}

// newLoopbackBrowser is a browser whose connections to any host go to the gateway's
// address, as Chromium resolves *.localhost to loopback.
func newLoopbackBrowser(t *testing.T, base string) *browser {
	b := newBrowser(t, base)
	addr := strings.TrimPrefix(base, "http://")
	b.Client.Transport = &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	jar, _ := cookiejar.New(nil)
	b.Client.Jar = jar
	return b
}

// portOrigin is the port-preview origin of a user's workspace port on gateway g.
func portOrigin(g *gateway, workspace string, port int) string {
	_, gwPort, _ := net.SplitHostPort(strings.TrimPrefix(g.URL, "http://"))
	return fmt.Sprintf("http://p%d--%s.localhost:%s", port, workspace, gwPort)
}
