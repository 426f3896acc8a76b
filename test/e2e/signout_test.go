package e2e

import (
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// awaitClose reads conn until it ends and returns the close status it ended with.
func awaitClose(t *testing.T, conn *websocket.Conn) <-chan websocket.StatusCode {
	t.Helper()
	out := make(chan websocket.StatusCode, 1)
	go func() {
		for {
			if _, _, err := conn.Read(ctxTimeout(t, 2*time.Minute)); err != nil {
				out <- websocket.CloseStatus(err)
				return
			}
		}
	}()
	return out
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the form token of the page at path (every state-changing form carries one).
func (b *browser) csrf(t *testing.T, path string) string {
	t.Helper()
	_, body := b.navigate(t, path)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("%s has no CSRF token:\n%s", path, body)
	}
	return m[1]
}

func wantSignedOut(t *testing.T, what string, closed <-chan websocket.StatusCode) {
	t.Helper()
	select {
	case code := <-closed:
		if code != 4001 {
			t.Fatalf("%s: the WebSocket ended with status %d, want 4001 (signed out)", what, code)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: the WebSocket is still open", what)
	}
}

// TestSignOutEndsLiveConnections is issue #12's rows 4 and 5 against real code-servers:
// signing out in one tab ends the terminal WebSocket open in another; deleting an account
// with the CLI ends its open WebSocket, its session and its running workspace.
func TestSignOutEndsLiveConnections(t *testing.T) {
	state := stateWithUsers(t, "alice", "bob")
	g := startGateway(t, state, "--idle-timeout", "0")

	alice := g.signIn(t, "alice")
	alice.openWorkbench(t)
	conn, _, err := dialWS(t, alice, g.URL, true)
	if err != nil {
		t.Fatal(err)
	}
	closed := awaitClose(t, conn)
	// Another tab of the same browser signs out.
	resp, err := alice.PostForm(g.URL+"/_codehub/logout", url.Values{"csrf": {alice.csrf(t, "/_codehub/logout")}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	wantSignedOut(t, "sign-out in another tab", closed)

	bob := g.signIn(t, "bob")
	bob.openWorkbench(t)
	pid := workspacePID(t, state, "bob")
	conn, _, err = dialWS(t, bob, g.URL, true)
	if err != nil {
		t.Fatal(err)
	}
	closed = awaitClose(t, conn)
	if out, err := exec.Command(codehubBinary(t), "users", "delete", "bob", "--state-dir", state).CombinedOutput(); err != nil {
		t.Fatalf("users delete: %v %s", err, out)
	}
	wantSignedOut(t, "account deleted", closed)
	eventually(t, time.Minute, "the deleted user's workspace to stop", func() bool { return !alive(pid) })
	if resp, _ := bob.navigate(t, "/"); resp.Request.URL.Path != "/_codehub/login" {
		t.Fatalf("the deleted user's session still works: ended at %s (%d)", resp.Request.URL, resp.StatusCode)
	}
	if resp, _ := bob.Get(g.URL + "/_codehub/api/v1/workspace"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the deleted user's API session: %d", resp.StatusCode)
	}
}
