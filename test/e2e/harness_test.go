// Package e2e runs the real codehub binary against a real code-server (and, in the
// browser test, a real headless Chromium). Nothing here is faked.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/testkit"
	"github.com/codehub-dev/codehub/internal/users"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// codehubBinary builds cmd/codehub once per test run.
func codehubBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "codehub-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "codehub")
		// codehub-init beside codehub: the gateway starts every workspace through it.
		cmd := exec.Command("go", "build", "-o", dir+"/", "./cmd/codehub", "./cmd/codehub-init")
		cmd.Dir = testkit.RepoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type gateway struct {
	cmd      *exec.Cmd
	URL      string
	Metrics  string
	StateDir string
	Stdout   *testkit.Buffer
	Stderr   *testkit.Buffer
	exited   chan struct{}
	exitErr  error
}

// eventually polls cond until it returns true or the deadline passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, timeout, what, func() error {
		if cond() {
			return nil
		}
		return errors.New("not yet")
	})
}

// startGateway runs `codehub serve` on free ports with the given state dir.
func startGateway(t *testing.T, stateDir string, extra ...string) *gateway {
	t.Helper()
	return startGatewayWith(t, gatewayOptions{stateDir: stateDir}, extra...)
}

// gatewayOptions vary how the test gateway runs.
type gatewayOptions struct {
	stateDir string
	port     int    // 0 = a free one
	binary   string // "" = the test build
	// codeServer overrides the real code-server's path (e.g. a copy another uid can run).
	codeServer string
	// cred runs the gateway as another unix user (nil = as the test, root).
	cred *syscall.Credential
	// health is the client and URL the start-up health check uses (nil = plain HTTP).
	health *http.Client
	// healthURL overrides the health check's URL.
	healthURL string
}

func startGatewayWith(t *testing.T, o gatewayOptions, extra ...string) *gateway {
	t.Helper()
	port, mport := o.port, freePort(t)
	if port == 0 {
		port = freePort(t)
	}
	cs, bin := o.codeServer, o.binary
	if cs == "" {
		cs = testkit.CodeServer(t)
	}
	if bin == "" {
		bin = codehubBinary(t)
	}
	args := append([]string{"serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port),
		"--metrics-listen", fmt.Sprintf("127.0.0.1:%d", mport), "--state-dir", o.stateDir,
		"--code-server", cs, "--stop-grace", "5s", "--reconnection-grace-time", "30s"}, extra...)
	g := &gateway{
		cmd: exec.Command(bin, args...), URL: fmt.Sprintf("http://127.0.0.1:%d", port),
		Metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", mport), StateDir: o.stateDir,
		Stdout: &testkit.Buffer{}, Stderr: &testkit.Buffer{}, exited: make(chan struct{}),
	}
	g.cmd.Stdout, g.cmd.Stderr = g.Stdout, g.Stderr
	g.cmd.Env = append(os.Environ(), "CODEHUB_CODE_SERVER=")
	if o.cred != nil {
		g.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: o.cred}
		g.cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + o.stateDir, "USER=codehub-test"}
	}
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		g.exitErr = g.cmd.Wait()
		close(g.exited)
	}()
	t.Cleanup(func() {
		g.Stop(t)
		if t.Failed() {
			t.Logf("gateway stderr:\n%s", g.Stderr.String())
		}
	})
	client, healthURL := o.health, o.healthURL
	if client == nil {
		client = http.DefaultClient
	}
	if healthURL == "" {
		healthURL = g.URL + "/_codehub/healthz"
	}
	eventually(t, 60*time.Second, "gateway health", func() bool {
		select {
		case <-g.exited:
			t.Fatalf("gateway exited early: %v\nstderr:\n%s", g.exitErr, g.Stderr.String())
		default:
		}
		resp, err := client.Get(healthURL)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return g
}

// Stop sends SIGTERM and waits for the gateway to exit; it returns the exit error.
func (g *gateway) Stop(t *testing.T) error {
	select {
	case <-g.exited:
		return g.exitErr
	default:
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.exited:
	case <-time.After(60 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.exited
		t.Errorf("gateway did not exit within 60s of SIGTERM")
	}
	return g.exitErr
}

// stateWithUsers is a new state directory (one the workspaces' uids can traverse) with
// the local users names, each with the password <name>-password.
func stateWithUsers(t *testing.T, names ...string) string {
	t.Helper()
	state := testkit.TraversableTempDir(t)
	for _, n := range names {
		addUser(t, state, n, n+"-password", false)
	}
	return state
}

// signIn is a new browser signed in to g as the local user name (password <name>-password).
func (g *gateway) signIn(t *testing.T, name string) *browser {
	t.Helper()
	b := newBrowser(t, g.URL)
	b.login(t, name, name+"-password")
	return b
}

func addUser(t *testing.T, stateDir, name, password string, admin bool) {
	t.Helper()
	args := []string{"users", "add", name, "--password-stdin", "--state-dir", stateDir}
	if admin {
		args = append(args, "--admin")
	}
	cmd := exec.Command(codehubBinary(t), args...)
	cmd.Stdin = strings.NewReader(password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("users add %s: %v\n%s", name, err, out)
	}
}

// pinUID gives name the unix uid uid in stateDir's users file before the gateway starts,
// as AssignUID would have saved it: gateways running side by side would otherwise both
// hand their first user the lowest free uid.
func pinUID(t *testing.T, stateDir, name string, uid int64) {
	t.Helper()
	path := filepath.Join(stateDir, "users.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Users []users.User `json:"users"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	found := false
	for i := range f.Users {
		if f.Users[i].Name == name {
			f.Users[i].UID, found = &uid, true
		}
	}
	if data, err = json.Marshal(f); err != nil || !found {
		t.Fatalf("pin uid of %s: found %v, %v", name, found, err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// browser is an HTTP client with a cookie jar that sends what a browser sends on a
// page visit.
type browser struct {
	*http.Client
	base string
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{Client: &http.Client{Jar: jar, Timeout: 60 * time.Second}, base: base}
}

func (b *browser) navigate(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", b.base+path, nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	req.Header.Set("Sec-Fetch-Dest", "document")
	resp, err := b.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

func (b *browser) login(t *testing.T, user, password string) {
	t.Helper()
	resp, err := b.PostForm(b.base+"/_codehub/login", url.Values{"username": {user}, "password": {password}, "next": {"/"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if b.sessionCookie() == "" {
		t.Fatalf("login %s: no session cookie (status %d)", user, resp.StatusCode)
	}
}

func (b *browser) sessionCookie() string {
	u, _ := url.Parse(b.base)
	for _, c := range b.Jar.Cookies(u) {
		if c.Name == "codehub_session" {
			return c.Value
		}
	}
	return ""
}

// openWorkbench visits / until the progress page gives way to code-server's workbench
// and returns the workbench HTML.
func (b *browser) openWorkbench(t *testing.T) string {
	t.Helper()
	var body string
	eventually(t, 3*time.Minute, "the workbench through the gateway", func() bool {
		resp, html := b.navigate(t, "/")
		body = html
		if resp.StatusCode == http.StatusForbidden || strings.Contains(html, "Workspace failed") {
			t.Fatalf("the workspace did not start: %d\n%s", resp.StatusCode, html)
		}
		return resp.StatusCode == 200 && strings.Contains(html, "vscode-workbench-web-configuration")
	})
	return body
}

// servedFolder asks code-server (through the gateway) which folder it opens: GET /
// answers 302 ./?folder=<the workspace folder of the process that answered>.
func (b *browser) servedFolder(t *testing.T) string {
	t.Helper()
	return b.servedFolderAt(t, "/")
}

// servedFolderAt is servedFolder for a workspace served at path (a named one's /w/<name>/).
func (b *browser) servedFolderAt(t *testing.T, path string) string {
	t.Helper()
	c := *b.Client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, _ := http.NewRequest("GET", b.base+path, nil)
	req.Header.Set("Accept", "text/html")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, "./?folder=") {
		t.Fatalf("GET %s through the gateway: %d Location %q, want code-server's folder redirect", path, resp.StatusCode, loc)
	}
	folder, _ := url.QueryUnescape(strings.TrimPrefix(loc, "./?folder="))
	return folder
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// connectionsTo counts TCP sockets on either end of a connection to a local port, in
// any state but LISTEN (TIME_WAIT included, so connections that already closed within
// the last minute still count).

// workspaceState asks the gateway for the signed-in user's workspace state.
func (b *browser) workspaceState(t *testing.T) string {
	t.Helper()
	resp, err := b.Get(b.base + "/_codehub/api/v1/workspace")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	var out struct{ State string }
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("workspace status %q: %v", body, err)
	}
	return out.State
}

// workspacePort reads the port of a running workspace from its process command line.
func workspacePID(t *testing.T, stateDir, user string) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(stateDir, "workspaces", identity.WorkspaceName(user), "code-server.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}

var socketRE = regexp.MustCompile(`--socket\x00([^\x00]+)`)

// workspaceSocket is the unix socket a user's running code-server listens on.
func workspaceSocket(t *testing.T, stateDir, user string) string {
	t.Helper()
	pid := workspacePID(t, stateDir, user)
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Fatalf("workspace of %s not running: %v", user, err)
	}
	m := socketRE.FindSubmatch(cmdline)
	if m == nil {
		t.Fatalf("no --socket in %q", cmdline)
	}
	return string(m[1])
}

// connectionsToSocket counts the connected sockets on a unix socket path (the kernel
// names every accepted connection after its listener in /proc/net/unix).
func connectionsToSocket(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		// Num RefCount Protocol Flags Type St Inode Path; St 03 = connected.
		if len(f) >= 8 && f[5] == "03" && f[7] == path {
			n++
		}
	}
	return n
}

// ownLike gives path the owner of ref (a workspace's files belong to its unix user).
func ownLike(t *testing.T, path, ref string) {
	t.Helper()
	st, err := os.Stat(ref)
	if err != nil {
		t.Fatal(err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	if err := os.Chown(path, int(sys.Uid), int(sys.Gid)); err != nil {
		t.Fatal(err)
	}
}

// processIDs is "uid:gid" (real ids) of a process.
func processIDs(t *testing.T, pid int) string {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("process %d: %v", pid, err)
	}
	var uid, gid string
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" {
			uid = f[1]
		} else if len(f) > 1 && f[0] == "Gid:" {
			gid = f[1]
		}
	}
	return uid + ":" + gid
}

func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

// groupRSS sums the resident memory of every process in a process group, in KiB.
func groupRSS(t *testing.T, pgid int) int {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	total := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(stat, ')')
		fields := strings.Fields(string(stat[i+2:]))
		if len(fields) < 3 || fields[2] != strconv.Itoa(pgid) {
			continue
		}
		status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		for _, line := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(line, "VmRSS:") {
				kb, _ := strconv.Atoi(strings.Fields(line)[1])
				total += kb
			}
		}
	}
	return total
}

func mustParse(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
