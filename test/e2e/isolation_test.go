package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/codehub-dev/codehub/internal/identity"
)

// TestIsolationAttacks is issue #11's table, run as a hostile signed-in user would against
// a root gateway (one unix uid per workspace) and real code-servers. Every row failed as an
// attack before the authenticated hop and per-uid workspaces (see docs/security.md).
func TestIsolationAttacks(t *testing.T) {
	state := stateWithUsers(t, "alice", "bob")
	addUser(t, state, "admin", "admin-password", true)
	g := startGateway(t, state, "--idle-timeout", "0")
	mport, _ := strconv.Atoi(g.Metrics[strings.LastIndexByte(g.Metrics, ':')+1 : strings.LastIndexByte(g.Metrics, '/')])
	gport, _ := strconv.Atoi(g.URL[strings.LastIndexByte(g.URL, ':')+1:])

	alice, bob := newLoopbackBrowser(t, g.URL), newLoopbackBrowser(t, g.URL)
	alice.login(t, "alice", "alice-password")
	bob.login(t, "bob", "bob-password")
	alice.openWorkbench(t)
	bob.openWorkbench(t)
	aliceWS, bobWS := identity.WorkspaceName("alice"), identity.WorkspaceName("bob")
	aliceUID, bobUID := uidOf(t, state, "alice"), uidOf(t, state, "bob")
	if aliceUID < 1000 || bobUID < 1000 || aliceUID == bobUID {
		t.Fatalf("workspace uids alice=%d bob=%d: want two distinct unprivileged uids", aliceUID, bobUID)
	}
	bobHome := filepath.Join(state, "workspaces", bobWS, "home")
	secret := filepath.Join(bobHome, "workspace", "bob-secret.txt")
	if err := os.WriteFile(secret, []byte("bob's private notes"), 0o600); err != nil {
		t.Fatal(err)
	}
	ownLike(t, secret, bobHome)
	aliceToken := mintToken(t, alice, "cli") // tokens.json exists from here on
	bobApp := appAs(t, bobUID, "<title>bob's app</title>bob-app-content")
	aliceApp := appAs(t, aliceUID, "<title>alice's app</title>alice-app-content")

	get := func(b *browser, rawURL string) (int, string, http.Header) {
		t.Helper()
		req, _ := http.NewRequest("GET", rawURL, nil)
		req.Header.Set("Accept", "text/html")
		req.Header.Set("Sec-Fetch-Mode", "navigate")
		resp, err := b.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", rawURL, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), resp.Header
	}

	t.Run("1 vscode-remote-resource reads the gateway's secrets or bob's files", func(t *testing.T) {
		// Positive control: the route works for alice's own file.
		own := filepath.Join(state, "workspaces", aliceWS, "home", "workspace", "mine.txt")
		os.WriteFile(own, []byte("alice's own"), 0o600)
		ownLike(t, own, filepath.Dir(own))
		if code, body, _ := get(alice, g.URL+"/vscode-remote-resource?path="+url.QueryEscape(own)); code != 200 || body != "alice's own" {
			t.Fatalf("control: alice's own file: %d %q", code, body)
		}
		for _, f := range []string{"session.key", "users.json", "tokens.json", "metrics.token", secret} {
			p := f
			if !filepath.IsAbs(p) {
				p = filepath.Join(state, f)
			}
			content, err := os.ReadFile(p)
			if err != nil || len(content) < 8 {
				t.Fatalf("%s must exist for the attack to mean something: %v", p, err)
			}
			code, body, _ := get(alice, g.URL+"/vscode-remote-resource?path="+url.QueryEscape(p))
			if code == 200 || strings.Contains(body, strings.TrimSpace(string(content[:8]))) {
				t.Errorf("alice read %s: %d %q", p, code, body)
			}
		}
	})

	t.Run("2 /proxy/<port> to bob's app or code-server", func(t *testing.T) {
		if got := listenersOf(t, bobUID); !slices.Equal(got, []int{bobApp}) {
			t.Fatalf("bob's uid listens on TCP %v, want only his app's port %d: code-server must have no TCP listener", got, bobApp)
		}
		for _, path := range []string{fmt.Sprintf("/proxy/%d/", bobApp), fmt.Sprintf("/absproxy/%d/", bobApp), fmt.Sprintf("/proxy/%d", bobApp), "/proxy/bad/"} {
			code, body, _ := get(alice, g.URL+path)
			if strings.Contains(body, "bob-app-content") || (code != http.StatusSeeOther && code != http.StatusNotFound && code != http.StatusBadGateway) {
				t.Errorf("alice GET %s on the main origin: %d %q", path, code, body)
			}
		}
		// Through a port origin (her own: the only one she can get a cookie for).
		for _, o := range []string{portOrigin(g, aliceWS, bobApp), portOrigin(g, bobWS, bobApp)} {
			code, body, _ := get(alice, o+"/")
			if strings.Contains(body, "bob-app-content") || code == 200 {
				t.Errorf("alice via %s: %d %q", o, code, body)
			}
		}
		// Positive control: bob reaches his own app through his port origin.
		if code, body, _ := get(bob, portOrigin(g, bobWS, bobApp)+"/"); code != 200 || !strings.Contains(body, "bob-app-content") {
			t.Fatalf("control: bob's own app: %d %q", code, body)
		}
	})

	t.Run("3 alice's terminal reaches bob's code-server or files", func(t *testing.T) {
		bobSock := workspaceSocket(t, state, "bob")
		connect := `import socket,sys
s=socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1]); s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n"); print(s.recv(200).decode(errors="replace").split("\r\n")[0])
except Exception as e:
    print("REFUSED", type(e).__name__)`
		if out, _ := asUID(t, aliceUID, "/usr/bin/python3", "-c", connect, bobSock); !strings.Contains(out, "REFUSED PermissionError") {
			t.Errorf("alice's process on bob's socket: %q", out)
		}
		// Even her own code-server wants the credential only the gateway holds.
		if out, _ := asUID(t, aliceUID, "/usr/bin/python3", "-c", connect, workspaceSocket(t, state, "alice")); !strings.Contains(out, "HTTP/1.1 302") && !strings.Contains(out, "HTTP/1.1 401") {
			t.Errorf("alice's process on her own socket without the credential: %q", out)
		}
		for _, p := range []string{secret, filepath.Join(state, "session.key"), filepath.Join(state, "users.json"), filepath.Join(state, "metrics.token")} {
			out, _ := asUID(t, aliceUID, "/usr/bin/python3", "-c", "import sys\ntry: print(open(sys.argv[1]).read())\nexcept Exception as e: print('REFUSED', type(e).__name__)", p)
			if !strings.Contains(out, "REFUSED PermissionError") {
				t.Errorf("alice's process read %s: %q", p, out)
			}
		}
	})

	t.Run("4 starts by token, admin and API run as the owner's uid", func(t *testing.T) {
		adminB := newLoopbackBrowser(t, g.URL)
		adminB.login(t, "admin", "admin-password")
		adminToken := mintToken(t, adminB, "ops")
		for _, step := range []struct{ token, action, user string }{
			{aliceToken, "stop", "alice"}, {aliceToken, "start", "alice"},
			{adminToken, "stop", "bob"}, {adminToken, "start", "bob"},
		} {
			if code, body := apiCall(t, g, step.token, step.action, step.user); code != 200 {
				t.Fatalf("%s %s: %d %s", step.action, step.user, code, body)
			}
			want := map[string]string{"start": "Running", "stop": "Stopped"}[step.action]
			eventually(t, 2*time.Minute, step.user+" "+want, func() bool { return apiState(t, g, adminToken, step.user) == want })
		}
		if got := uidOf(t, state, "alice"); got != aliceUID {
			t.Errorf("alice's workspace restarted by her token runs as uid %d, want %d", got, aliceUID)
		}
		if got := uidOf(t, state, "bob"); got != bobUID {
			t.Errorf("bob's workspace started by the admin runs as uid %d, want bob's %d", got, bobUID)
		}
		if code, body := apiCall(t, g, adminToken, "start", "carol"); code != http.StatusNotFound {
			t.Errorf("admin starts a workspace for a user who never signed in: %d %s", code, body)
		}
	})

	t.Run("5 an app's cookies and pages never act on the gateway origin", func(t *testing.T) {
		code, body, hdr := get(alice, portOrigin(g, aliceWS, aliceApp)+"/")
		if code != 200 || !strings.Contains(body, "alice-app-content") {
			t.Fatalf("alice's own app on its origin: %d %q", code, body)
		}
		var names []string
		for _, c := range hdr.Values("Set-Cookie") {
			names = append(names, strings.SplitN(c, "=", 2)[0])
		}
		if !slices.Equal(names, []string{"app_pref"}) {
			t.Errorf("Set-Cookie reaching the browser from an app: %v, want only app_pref", names)
		}
		// A page stored where another user can write (world-readable /tmp here, shared
		// storage on a platform) opens sandboxed when served from bob's workspace.
		dir := filepath.Join(os.TempDir(), fmt.Sprintf("alice-shared-%d", time.Now().UnixNano()))
		if out, err := pyAs(t, aliceUID, fmt.Sprintf("import os\nos.makedirs(%q, 0o755)\nopen(%q, 'w').write('<script>fetch(\"/_codehub/api/v1/tokens\")</script>')\nos.chmod(%q, 0o644)", dir, dir+"/evil.html", dir+"/evil.html")); err != nil {
			t.Fatalf("alice writes a page: %v %s", err, out)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		code, _, hdr = get(bob, g.URL+"/vscode-remote-resource?path="+url.QueryEscape(dir+"/evil.html"))
		if code != 200 || hdr.Get("Content-Security-Policy") != "sandbox" {
			t.Errorf("a page served by vscode-remote-resource: %d CSP %q, want 200 with CSP sandbox", code, hdr.Get("Content-Security-Policy"))
		}
	})

	t.Run("6 metrics and the gateway itself through a port proxy", func(t *testing.T) {
		for _, p := range []int{mport, gport} {
			code, body, _ := get(alice, g.URL+fmt.Sprintf("/proxy/%d/metrics", p))
			if strings.Contains(body, "codehub_http") || strings.Contains(body, `name="password"`) {
				t.Errorf("main origin /proxy/%d/: %d %q", p, code, body)
			}
			code, body, _ = get(alice, portOrigin(g, aliceWS, p)+"/metrics")
			if code == 200 || strings.Contains(body, "codehub_http") {
				t.Errorf("alice's port origin for the gateway's port %d: %d %q", p, code, body)
			}
			code, body, _ = get(alice, portOrigin(g, aliceWS, p)+"/_codehub/login")
			if strings.Contains(body, `name="password"`) {
				t.Errorf("the gateway's sign-in through a port origin (%d): %d", p, code)
			}
		}
		resp, err := http.Get(g.Metrics)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("metrics without the token: %d", resp.StatusCode)
		}
		token, _ := os.ReadFile(filepath.Join(state, "metrics.token"))
		req, _ := http.NewRequest("GET", g.Metrics, nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Contains(body, []byte("codehub_http_requests_total")) {
			t.Errorf("metrics with the token: %d", resp.StatusCode)
		}
	})

	t.Run("7 uid mode works out of the box and keeps the state private", func(t *testing.T) {
		for _, c := range []struct {
			path string
			mode os.FileMode
			uid  int
		}{
			{state, 0o711, 0}, {filepath.Join(state, "workspaces"), 0o711, 0}, {filepath.Join(state, "run"), 0o711, 0},
			{filepath.Join(state, "session.key"), 0o600, 0}, {filepath.Join(state, "users.json"), 0o600, 0},
			{filepath.Join(state, "tokens.json"), 0o600, 0}, {filepath.Join(state, "metrics.token"), 0o600, 0},
			{filepath.Join(state, "workspaces", aliceWS), 0o711, 0},
			{filepath.Join(state, "workspaces", aliceWS, "owner.json"), 0o600, 0},
			{filepath.Join(state, "workspaces", aliceWS, "home"), 0o700, aliceUID},
			{filepath.Dir(workspaceSocket(t, state, "alice")), 0o700, aliceUID},
		} {
			st, err := os.Stat(c.path)
			if err != nil {
				t.Errorf("%s: %v", c.path, err)
				continue
			}
			if sys := st.Sys().(*syscall.Stat_t); st.Mode().Perm() != c.mode || int(sys.Uid) != c.uid {
				t.Errorf("%s: mode %o owner %d, want %o owner %d", c.path, st.Mode().Perm(), sys.Uid, c.mode, c.uid)
			}
		}
	})
}

// uidOf is the unix uid a user's running code-server has.
func uidOf(t *testing.T, state, user string) int {
	t.Helper()
	ids := processIDs(t, workspacePID(t, state, user))
	uid, _ := strconv.Atoi(strings.SplitN(ids, ":", 2)[0])
	return uid
}

func mintToken(t *testing.T, b *browser, name string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", b.base+"/_codehub/api/v1/tokens", strings.NewReader(`{"name":"`+name+`"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Token == "" {
		t.Fatalf("mint token: %d %v", resp.StatusCode, err)
	}
	return out.Token
}

func apiCall(t *testing.T, g *gateway, token, action, user string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", g.URL+"/_codehub/api/v1/workspaces/"+url.PathEscape(user)+"/"+action, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func apiState(t *testing.T, g *gateway, token, user string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", g.URL+"/_codehub/api/v1/workspaces", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Workspaces []struct{ User, State string }
	}
	json.NewDecoder(resp.Body).Decode(&out)
	for _, w := range out.Workspaces {
		if w.User == user {
			return w.State
		}
	}
	return ""
}
