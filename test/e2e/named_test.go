package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/codehub-dev/codehub/internal/identity"
)

// TestNamedWorkspaces runs named workspaces on a root gateway (one unix uid per user) with
// real code-servers: each has its own home, runs as its owner's uid, is served at
// /w/<name>/ to its owner only, and no path names anyone else's.
func TestNamedWorkspaces(t *testing.T) {
	state := stateWithUsers(t, "alice", "bob")
	g := startGateway(t, state, "--idle-timeout", "0", "--max-workspaces", "2")
	alice, bob := newLoopbackBrowser(t, g.URL), newLoopbackBrowser(t, g.URL)
	alice.login(t, "alice", "alice-password")
	bob.login(t, "bob", "bob-password")
	aliceTok, bobTok := mintToken(t, alice, "cli"), mintToken(t, bob, "cli")

	// alice's default workspace first, with a file of its own.
	alice.openWorkbench(t)
	aliceUID := uidOf(t, state, "alice")
	defaultHome := filepath.Join(state, "workspaces", identity.WorkspaceName("alice"), "home")
	if folder := alice.servedFolder(t); !strings.HasPrefix(folder, defaultHome) {
		t.Fatalf("alice's default workspace serves %s, want under %s", folder, defaultHome)
	}

	// A visit never creates a named workspace.
	if resp, body := alice.navigate(t, "/w/dev/"); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "no workspace named dev") {
		t.Fatalf("a visit to a named workspace that does not exist: %d %q", resp.StatusCode, body)
	}
	if code, body := namedAPI(t, g, aliceTok, "POST", "alice", "dev", "start"); code != 200 || !strings.Contains(body, `"workspace":"dev"`) {
		t.Fatalf("create alice/dev: %d %s", code, body)
	}
	alice.openWorkbenchAt(t, "/w/dev/")
	devName := identity.NamedWorkspaceName("alice", "dev")
	devHome := filepath.Join(state, "workspaces", devName, "home")
	if folder := alice.servedFolderAt(t, "/w/dev/"); !strings.HasPrefix(folder, devHome) {
		t.Fatalf("alice's workspace dev serves %s, want under its own home %s", folder, devHome)
	}
	if folder := alice.servedFolder(t); !strings.HasPrefix(folder, defaultHome) {
		t.Fatalf("after opening dev, / serves %s, want the default workspace's %s", folder, defaultHome)
	}
	if uid := uidOfDir(t, filepath.Join(state, "workspaces", devName)); uid != aliceUID {
		t.Fatalf("alice's workspace dev runs as uid %d, want her own %d", uid, aliceUID)
	}
	secret := filepath.Join(devHome, "workspace", "dev-secret.txt")
	if err := os.WriteFile(secret, []byte("alice's dev notes"), 0o600); err != nil {
		t.Fatal(err)
	}
	ownLike(t, secret, devHome)
	resource := "/vscode-remote-resource?path=" + url.QueryEscape(secret)
	// Positive control: alice reads her own file through her workspace dev.
	if code, body, _ := getPage(t, alice, g.URL+"/w/dev"+resource); code != 200 || body != "alice's dev notes" {
		t.Fatalf("control: alice's own file through /w/dev/: %d %q", code, body)
	}
	if _, err := os.Stat(filepath.Join(defaultHome, "workspace", "dev-secret.txt")); err == nil {
		t.Fatal("a file of the workspace dev is in the default workspace's home")
	}

	t.Run("the path without its slash redirects", func(t *testing.T) {
		c := *alice.Client
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := c.Get(g.URL + "/w/dev?x=1")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/w/dev/?x=1" {
			t.Fatalf("/w/dev: %d → %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	t.Run("bob never reaches alice's named workspace", func(t *testing.T) {
		paths := []string{
			"/w/dev/", "/w/dev" + resource, "/w/dev", "/w/Dev/", "/w/../w/dev/", "/w/%2e%2e/w/dev/", "/w/dev%2F..%2F/",
			"/w/" + devName + "/", "/w/alice/dev/", "/w/alice%2Fdev/", "/w/-dev/", "/w/dev--x/", "/w/default/", "/w//",
		}
		for _, p := range paths {
			code, body, _ := getPage(t, bob, g.URL+p)
			if code == 200 || strings.Contains(body, "alice's dev notes") || strings.Contains(body, devHome) {
				t.Errorf("bob GET %s: %d %.200q", p, code, body)
			}
		}
		// Now bob has a workspace dev of his own: the same path is his, never hers.
		if code, body := namedAPI(t, g, bobTok, "POST", "bob", "dev", "start"); code != 200 {
			t.Fatalf("create bob/dev: %d %s", code, body)
		}
		bob.openWorkbenchAt(t, "/w/dev/")
		bobDevHome := filepath.Join(state, "workspaces", identity.NamedWorkspaceName("bob", "dev"), "home")
		if folder := bob.servedFolderAt(t, "/w/dev/"); !strings.HasPrefix(folder, bobDevHome) {
			t.Fatalf("bob's /w/dev/ serves %s, want his own %s", folder, bobDevHome)
		}
		if code, body, _ := getPage(t, bob, g.URL+"/w/dev"+resource); code == 200 || strings.Contains(body, "alice's dev notes") {
			t.Errorf("bob read alice's dev file through his own dev: %d %q", code, body)
		}
		// The API: bob may not manage alice's named workspace.
		for _, call := range [][2]string{{"GET", ""}, {"POST", "start"}, {"POST", "stop"}, {"DELETE", ""}} {
			if code, body := namedAPI(t, g, bobTok, call[0], "alice", "dev", call[1]); code != http.StatusForbidden {
				t.Errorf("bob %s alice/dev %s: %d %s", call[0], call[1], code, body)
			}
		}
	})

	t.Run("ports of a named workspace stay with its owner", func(t *testing.T) {
		app := appAs(t, aliceUID, "<title>alice's app</title>alice-app-content")
		code, _, hdr := getPage(t, alice, g.URL+fmt.Sprintf("/w/dev/proxy/%d/", app))
		if want := portOrigin(g, devName, app); code != http.StatusSeeOther || !strings.HasPrefix(hdr.Get("Location"), want) {
			t.Fatalf("/w/dev/proxy/%d/: %d → %q, want a redirect to %s", app, code, hdr.Get("Location"), want)
		}
		origin := portOrigin(g, devName, app)
		if code, body := visit(t, alice, origin+"/"); code != 200 || !strings.Contains(body, "alice-app-content") {
			t.Fatalf("control: alice's app through her dev's port origin: %d %.200q", code, body)
		}
		if code, body := visit(t, bob, origin+"/"); code == 200 || strings.Contains(body, "alice-app-content") {
			t.Errorf("bob through alice's dev's port origin: %d %.200q", code, body)
		}
	})

	t.Run("the limit counts the default workspace", func(t *testing.T) {
		code, body := namedAPI(t, g, aliceTok, "POST", "alice", "second", "start")
		if code != http.StatusForbidden || !strings.Contains(body, "most allowed here (2") {
			t.Fatalf("a third workspace with --max-workspaces 2: %d %s", code, body)
		}
		if _, err := os.Stat(filepath.Join(state, "workspaces", identity.NamedWorkspaceName("alice", "second"))); err == nil {
			t.Fatal("the refused workspace has a directory")
		}
		if code, body := namedAPI(t, g, aliceTok, "POST", "alice", "Bad--Name", "start"); code != http.StatusBadRequest || !strings.Contains(body, "lowercase") {
			t.Fatalf("a bad name: %d %s", code, body)
		}
	})

	t.Run("stop, wake on a visit, delete", func(t *testing.T) {
		if code, body := namedAPI(t, g, aliceTok, "POST", "alice", "dev", "stop"); code != 200 {
			t.Fatalf("stop alice/dev: %d %s", code, body)
		}
		eventually(t, time.Minute, "alice/dev stopped", func() bool {
			_, body := namedAPI(t, g, aliceTok, "GET", "alice", "dev", "")
			return strings.Contains(body, `"state":"Stopped"`)
		})
		// The default one runs on: stopping one workspace leaves the others alone.
		if s := alice.workspaceState(t); s != "Running" {
			t.Fatalf("alice's default workspace after stopping dev: %s", s)
		}
		// A script's request does not wake it; a page visit does.
		req, _ := http.NewRequest("GET", g.URL+"/w/dev/", nil)
		if resp, err := alice.Do(req); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("XHR to the stopped dev: %v %v", resp, err)
		} else {
			resp.Body.Close()
		}
		alice.openWorkbenchAt(t, "/w/dev/")
		code, body := namedAPI(t, g, aliceTok, "DELETE", "alice", "dev", "")
		if code != 200 || !strings.Contains(body, `"deleted":true`) {
			t.Fatalf("delete alice/dev: %d %s", code, body)
		}
		if _, err := os.Stat(filepath.Join(state, "workspaces", devName)); !os.IsNotExist(err) {
			t.Fatalf("alice/dev's directory after delete: %v", err)
		}
		if _, err := os.Stat(defaultHome); err != nil {
			t.Fatalf("deleting dev touched the default workspace: %v", err)
		}
		if resp, _ := alice.navigate(t, "/w/dev/"); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("/w/dev/ after delete: %d", resp.StatusCode)
		}
	})
}

// namedAPI calls the API of user's workspace name with a token: GET or DELETE (action
// ""), or POST start/stop.
func namedAPI(t *testing.T, g *gateway, token, method, user, name, action string) (int, string) {
	t.Helper()
	u := g.URL + "/_codehub/api/v1/workspaces/" + url.PathEscape(user) + "/" + url.PathEscape(name)
	if action != "" {
		u += "/" + action
	}
	req, _ := http.NewRequest(method, u, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// getPage is a page visit that does not follow redirects.
func getPage(t *testing.T, b *browser, rawURL string) (int, string, http.Header) {
	t.Helper()
	c := *b.Client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, _ := http.NewRequest("GET", rawURL, nil)
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

// visit is a page visit that follows redirects (handoffs to content origins included).
func visit(t *testing.T, b *browser, rawURL string) (int, string) {
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
	return resp.StatusCode, string(body)
}

// openWorkbenchAt is openWorkbench for a workspace served at path.
func (b *browser) openWorkbenchAt(t *testing.T, path string) {
	t.Helper()
	eventually(t, 3*time.Minute, "the workbench at "+path, func() bool {
		resp, html := b.navigate(t, path)
		if resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusNotFound || strings.Contains(html, "Workspace failed") {
			t.Fatalf("the workspace at %s did not start: %d\n%s", path, resp.StatusCode, html)
		}
		return resp.StatusCode == 200 && strings.Contains(html, "vscode-workbench-web-configuration")
	})
}

// uidOfDir is the uid a workspace's code-server runs as, from its pid file.
func uidOfDir(t *testing.T, dir string) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "code-server.pid"))
	if err != nil {
		t.Fatalf("no pid file in %s: %v", dir, err)
	}
	var pid, uid int
	fmt.Sscan(strings.TrimSpace(string(data)), &pid)
	ids := processIDs(t, pid)
	fmt.Sscanf(ids, "%d:", &uid)
	if uid == 0 {
		t.Fatalf("pid %d: ids %q", pid, ids)
	}
	return uid
}

// TestNamedWorkspaceIdleStop: a named workspace left alone is stopped by the idle timeout
// while its owner keeps working in her default workspace, which runs on; its open tab's
// requests do not wake it, a page visit does.
func TestNamedWorkspaceIdleStop(t *testing.T) {
	state := stateWithUsers(t, "alice")
	// CPU never counts: both of alice's workspaces run as her uid, whose busy work would
	// keep both running (docs/named-workspaces.md).
	g := startGateway(t, state, "--idle-timeout", "15s", "--busy-cpu", "-1")
	alice := newLoopbackBrowser(t, g.URL)
	alice.login(t, "alice", "alice-password")
	tok := mintToken(t, alice, "cli")
	alice.openWorkbench(t)
	if code, body := namedAPI(t, g, tok, "POST", "alice", "ml", "start"); code != 200 {
		t.Fatalf("create alice/ml: %d %s", code, body)
	}
	alice.openWorkbenchAt(t, "/w/ml/")
	mlPID := func() int {
		data, _ := os.ReadFile(filepath.Join(state, "workspaces", identity.NamedWorkspaceName("alice", "ml"), "code-server.pid"))
		var pid int
		fmt.Sscan(strings.TrimSpace(string(data)), &pid)
		return pid
	}
	first := mlPID()
	// alice works in her default workspace (page visits are activity) until ml stops.
	eventually(t, 2*time.Minute, "alice/ml idle-stopped", func() bool {
		alice.navigate(t, "/")
		_, body := namedAPI(t, g, tok, "GET", "alice", "ml", "")
		return strings.Contains(body, `"state":"Stopped"`) && !alive(first)
	})
	if s := alice.workspaceState(t); s != "Running" {
		t.Fatalf("alice's default workspace, in use, after ml's idle stop: %s", s)
	}
	if !strings.Contains(g.Stderr.String(), "action=workspace.stop outcome=ok target_user=alice workspace="+identity.NamedWorkspaceName("alice", "ml")) {
		t.Error("ml's idle stop is not in the audit log under its name")
	}
	req, _ := http.NewRequest("GET", g.URL+"/w/ml/", nil)
	if resp, err := alice.Do(req); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("XHR to the idle-stopped ml: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	alice.openWorkbenchAt(t, "/w/ml/")
	if pid := mlPID(); pid == first || !alive(pid) {
		t.Fatalf("the visit did not start ml again (pid %d, before %d)", pid, first)
	}
}
