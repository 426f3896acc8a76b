package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/codehub-dev/codehub/internal/identity"
)

func wsURL(base string) string {
	// The query VS Code's workbench uses for its management connection.
	return strings.Replace(base, "http://", "ws://", 1) +
		"/?reconnectionToken=8d4a3a86-6bd0-4e57-9fb1-0c6c7f1c0b2e&reconnection=false&skipWebSocketFrames=false"
}

func dialWS(t *testing.T, b *browser, origin string, cookie bool) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	if cookie {
		h.Set("Cookie", "codehub_session="+b.sessionCookie())
	}
	return websocket.Dial(ctxTimeout(t, 30*time.Second), wsURL(b.base), &websocket.DialOptions{HTTPHeader: h})
}

// TestTwoUsersGetTheirOwnWorkspaces signs two users in through the real gateway and
// checks that each gets a separate code-server, proxied HTTP and WebSocket, and that
// nothing alice sends ever reaches bob's process.
func TestTwoUsersGetTheirOwnWorkspaces(t *testing.T) {
	state := stateWithUsers(t, "alice", "bob")
	g := startGateway(t, state, "--idle-timeout", "0")

	alice := newBrowser(t, g.URL)
	resp, body := alice.navigate(t, "/")
	if resp.Request.URL.Path != "/_codehub/login" || !strings.Contains(body, `name="password"`) {
		t.Fatalf("unauthenticated visit ended at %s, want the sign-in form", resp.Request.URL)
	}
	alice.login(t, "alice", "alice-password")
	start := time.Now()
	alice.openWorkbench(t)
	t.Logf("measured: sign-in to workbench HTML (cold spawn) %s", time.Since(start).Round(10*time.Millisecond))

	aliceFolder := filepath.Join(state, "workspaces", identity.WorkspaceName("alice"), "home", "workspace")
	if got := alice.servedFolder(t); got != aliceFolder {
		t.Fatalf("alice's workbench opens %q, want %q", got, aliceFolder)
	}

	conn, resp, err := dialWS(t, alice, g.URL, true)
	if err != nil {
		t.Fatalf("WebSocket through the gateway: %v (status %v)", err, resp)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("WebSocket status %d", resp.StatusCode)
	}
	conn.CloseNow()

	bob := g.signIn(t, "bob")
	// Wake bob's workspace with a page visit, then wait with the status API (which
	// never proxies) so bob's process sees no traffic from us yet.
	bob.navigate(t, "/")
	eventually(t, 2*time.Minute, "bob's workspace to run", func() bool { return bob.workspaceState(t) == "Running" })
	alicePID, bobPID := workspacePID(t, state, "alice"), workspacePID(t, state, "bob")
	if alicePID == 0 || bobPID == 0 || alicePID == bobPID {
		t.Fatalf("pids alice=%d bob=%d: want two distinct processes", alicePID, bobPID)
	}
	bobSocket := workspaceSocket(t, state, "bob")
	before := connectionsToSocket(t, bobSocket)

	// Everything alice can try: her cookie plus every hint at bob's workspace.
	bobName := identity.WorkspaceName("bob")
	for _, path := range []string{"/", "/" + bobName + "/", "/?folder=" + filepath.Join(state, "workspaces", bobName, "home", "workspace"), "/bob", "/_codehub/../bob"} {
		for _, hdr := range []map[string]string{{}, {"X-Remote-User": "bob"}, {"X-Forwarded-User": "bob", "X-Codehub-User": "bob"}, {"X-Forwarded-Host": "bob.localhost"}} {
			req, _ := http.NewRequest("GET", g.URL+path, nil)
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			resp, err := alice.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	if c, _, err := dialWS(t, alice, g.URL, true); err == nil {
		c.CloseNow()
	}
	if after := connectionsToSocket(t, bobSocket); after > before {
		t.Fatalf("alice's requests opened %d connections to bob's code-server", after-before)
	}
	// Positive control: bob's own request does reach bob's process.
	bobFolder := bob.servedFolder(t)
	if bobFolder == aliceFolder || !strings.Contains(bobFolder, bobName) {
		t.Fatalf("bob served %q", bobFolder)
	}
	if after := connectionsToSocket(t, bobSocket); after <= before {
		t.Fatalf("bob's own request did not reach bob's code-server (connections %d → %d): the check above proves nothing", before, after)
	}

	t.Logf("measured: idle RSS of alice's workspace (process group) %d MiB", groupRSS(t, alicePID)/1024)
}

// TestUnauthenticatedNeverReachesCodeServer sends requests without a valid session, with
// and without Upgrade, and checks code-server saw no connection at all.
func TestUnauthenticatedNeverReachesCodeServer(t *testing.T) {
	state := stateWithUsers(t, "alice")
	g := startGateway(t, state, "--idle-timeout", "0")
	alice := g.signIn(t, "alice")
	alice.navigate(t, "/")
	eventually(t, 2*time.Minute, "alice's workspace to run", func() bool { return alice.workspaceState(t) == "Running" })
	sock := workspaceSocket(t, state, "alice")
	before := connectionsToSocket(t, sock)

	tampered := []byte(alice.sessionCookie())
	tampered[len(tampered)/2] ^= 0x01
	cookies := []string{"", "codehub_session=", "codehub_session=" + string(tampered), "codehub_session=garbage", "__Host-codehub_session=" + alice.sessionCookie()}
	for _, cookie := range cookies {
		for _, upgrade := range []bool{false, true} {
			req, _ := http.NewRequest("GET", g.URL+"/?folder=/", nil)
			if cookie != "" {
				req.Header.Set("Cookie", cookie)
			}
			req.Header.Set("X-Remote-User", "alice")
			if upgrade {
				req.Header.Set("Connection", "Upgrade")
				req.Header.Set("Upgrade", "websocket")
				req.Header.Set("Sec-WebSocket-Version", "13")
				req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("cookie %.30q upgrade=%v: status %d, want 401", cookie, upgrade, resp.StatusCode)
			}
		}
	}
	if after := connectionsToSocket(t, sock); after > before {
		t.Fatalf("unauthenticated requests opened %d connections to code-server", after-before)
	}
	// Cross-site WebSocket with a valid cookie is refused too.
	if _, resp, err := dialWS(t, alice, "http://evil.example", true); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin WebSocket: err=%v resp=%v, want 403", err, resp)
	}
	if after := connectionsToSocket(t, sock); after > before {
		t.Fatalf("a cross-origin WebSocket reached code-server")
	}
}

// TestIdleStopThenWakeKeepsFiles lets a workspace go idle, checks the process is gone,
// then wakes it with a page visit and reads back a file written before the stop.
func TestIdleStopThenWakeKeepsFiles(t *testing.T) {
	state := stateWithUsers(t, "alice")
	g := startGateway(t, state, "--idle-timeout", "3s")
	alice := g.signIn(t, "alice")
	alice.openWorkbench(t)
	firstPID := workspacePID(t, state, "alice")

	folder := alice.servedFolder(t)
	note := filepath.Join(folder, "notes.txt")
	want := fmt.Sprintf("written before the idle stop at %s\n", time.Now().Format(time.RFC3339Nano))
	if err := os.WriteFile(note, []byte(want), 0o600); err != nil {
		t.Fatal(err)
	}
	ownLike(t, note, folder) // a file in her folder is hers (her workspace runs as her own uid)

	eventually(t, time.Minute, "the idle stop", func() bool { return !alive(firstPID) && alice.workspaceState(t) == "Stopped" })

	// An XHR from the open tab does not wake it.
	req, _ := http.NewRequest("GET", g.URL+"/vscode-remote-resource?path="+note, nil)
	resp, err := alice.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || alice.workspaceState(t) != "Stopped" {
		t.Fatalf("XHR on a stopped workspace: %d, state %s", resp.StatusCode, alice.workspaceState(t))
	}

	alice.openWorkbench(t)
	if pid := workspacePID(t, state, "alice"); pid == firstPID || !alive(pid) {
		t.Fatalf("wake did not start a new process (pid %d, before %d)", pid, firstPID)
	}
	resp, err = alice.Get(g.URL + "/vscode-remote-resource?path=" + note)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(got) != want {
		t.Fatalf("file after wake: %d %q, want %q", resp.StatusCode, got, want)
	}
}

// TestRestartKeepsSessionAndDrains stops the gateway with SIGTERM while a WebSocket is
// open (it must get close code 1001, the workspace must stop, the exit must be 0), then
// starts a new gateway on the same state dir: the old cookie still signs alice in.
func TestRestartKeepsSessionAndDrains(t *testing.T) {
	state := stateWithUsers(t, "alice")
	g := startGateway(t, state, "--idle-timeout", "0")
	alice := g.signIn(t, "alice")
	alice.openWorkbench(t)
	pid := workspacePID(t, state, "alice")
	cookie := alice.sessionCookie()

	conn, _, err := dialWS(t, alice, g.URL, true)
	if err != nil {
		t.Fatal(err)
	}
	readErr := make(chan error, 1)
	go func() {
		for {
			if _, _, err := conn.Read(ctxTimeout(t, 2*time.Minute)); err != nil {
				readErr <- err
				return
			}
		}
	}()

	if err := g.Stop(t); err != nil {
		t.Fatalf("gateway exit after SIGTERM: %v\n%s", err, g.Stderr.String())
	}
	select {
	case err := <-readErr:
		if code := websocket.CloseStatus(err); code != websocket.StatusGoingAway {
			t.Fatalf("WebSocket ended with %v (close status %d), want 1001", err, code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("WebSocket still open after the gateway exited")
	}
	if alive(pid) {
		t.Fatalf("workspace process %d still running after the gateway exited", pid)
	}

	g2 := startGateway(t, state, "--idle-timeout", "0")
	again := newBrowser(t, g2.URL)
	again.Jar.SetCookies(mustParse(g2.URL), []*http.Cookie{{Name: "codehub_session", Value: cookie}})
	if st := again.workspaceState(t); st != "Stopped" {
		t.Fatalf("old cookie after restart: workspace state %q, want Stopped (signed in)", st)
	}
	again.openWorkbench(t)
}
