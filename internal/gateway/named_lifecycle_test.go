package gateway

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/codehub-dev/codehub/internal/agent"
	"github.com/codehub-dev/codehub/internal/backend"
)

// dialNamed opens a workbench WebSocket to user's workspace at /w/<name>/.
func dialNamed(t *testing.T, f *fixture, user, name string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := strings.Replace(f.srv.URL, "http://", "ws://", 1) + "/w/" + name + "/?reconnectionToken=0f7e&reconnection=true&skipWebSocketFrames=false"
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {f.srv.URL}, "Cookie": {f.cookie(user)}}})
	if err != nil {
		t.Fatalf("dial /w/%s/ as %s: %v", name, user, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// TestNamedStopClosesItsTabsOnly: the backend's stop notice of a named workspace drops its
// route and closes its tabs' connections with 4002; the default workspace's tab and route
// stay, and the activity of each goes to its own workspace.
func TestNamedStopClosesItsTabsOnly(t *testing.T) {
	f, rb := newIdleFixture(t)
	devUp, devGot := wsUpstream(t)
	defUp, defGot := wsUpstream(t)
	f.be.mu.Lock()
	f.be.byUser["alice"], f.be.byUser["alice/dev"] = defUp, devUp
	f.be.running["alice"], f.be.running["alice/dev"] = true, true
	f.be.mu.Unlock()
	dev, def := dialNamed(t, f, "alice", "dev"), dialNamedDefault(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := dev.Write(ctx, websocket.MessageBinary, []byte("to dev")); err != nil {
		t.Fatal(err)
	}
	if got := recvWithin(t, devGot); got != "to dev" {
		t.Fatalf("alice/dev's upstream got %q", got)
	}
	devRef := backend.Ref{User: "alice", Name: "dev"}
	f.be.Stop(ctx, devRef)
	rb.notify[0](devRef, "idle")
	if _, _, err := dev.Read(ctx); websocket.CloseStatus(err) != closeWorkspaceStopped {
		t.Fatalf("alice/dev's tab after its stop: %v, want close %d", err, closeWorkspaceStopped)
	}
	if _, ok := f.gw.routes.get(devRef); ok {
		t.Fatal("alice/dev's route kept after its stop notice")
	}
	if _, ok := f.gw.routes.get(backend.Default("alice")); !ok {
		t.Fatal("alice's default route dropped by alice/dev's stop")
	}
	if err := def.Write(ctx, websocket.MessageBinary, []byte("to default")); err != nil {
		t.Fatalf("the default workspace's tab after alice/dev stopped: %v", err)
	}
	if got := recvWithin(t, defGot); got != "to default" {
		t.Fatalf("alice's default upstream got %q", got)
	}
	// The stop is audited against alice/dev's full name.
	found := false
	for _, e := range f.gw.cfg.Audit.Recent(0) {
		found = found || (e.Action == "workspace.stop" && e.Workspace == devRef.FullName())
	}
	if !found {
		t.Error("the idle stop of alice/dev is not in the audit trail")
	}
}

// recvWithin is the next message a stand-in workspace got (10 s at most).
func recvWithin(t *testing.T, got chan []byte) string {
	t.Helper()
	select {
	case b := <-got:
		return string(b)
	case <-time.After(10 * time.Second):
		t.Fatal("no message reached the workspace")
		return ""
	}
}

func dialNamedDefault(t *testing.T, f *fixture) *websocket.Conn {
	t.Helper()
	c, err := dialWorkbench(t, f, "alice")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// TestNamedFailedStartTryAgain: the progress page of a named workspace that failed names
// it, and its Try again starts that workspace, not the default one.
func TestNamedFailedStartTryAgain(t *testing.T) {
	f, _, cb := namedFixture(t, false)
	f.be.mu.Lock()
	f.be.running["alice/dev"] = false
	f.be.mu.Unlock()
	cb.failed["alice/dev"] = "image pull failed"
	resp, body := f.do(t, "GET", "/w/dev/", map[string]string{"Cookie": f.cookie("alice"), "Accept": "text/html"})
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "Your workspace dev could not start") || !strings.Contains(body, `name="name" value="dev"`) {
		t.Fatalf("failed start of alice/dev: %d\n%s", resp.StatusCode, body)
	}
	csrf := csrfRE.FindStringSubmatch(body)[1]
	before := f.be.starts["alice"]
	if resp, _ := f.post(t, "/_codehub/start", map[string]string{"Cookie": f.cookie("alice")}, form(csrf, "name", "dev", "next", "/w/dev/")); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/w/dev/" {
		t.Fatalf("try again: %d → %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if f.be.starts["alice/dev"] != 1 || f.be.starts["alice"] != before {
		t.Fatalf("try again started %v, want alice/dev once", f.be.starts)
	}
}

// TestNamedMainHostLinkInOriginMode: with per-workspace origins a one-host link to a named
// workspace (/w/<name>/…) on the main host opens that workspace's own host.
func TestNamedMainHostLinkInOriginMode(t *testing.T) {
	f, _, _ := namedFixture(t, true)
	hdr := map[string]string{"Cookie": f.cookie("alice"), "Host": mainHost, "Accept": "text/html"}
	resp, _ := f.do(t, "GET", "/w/dev/src/a.go?x=1", hdr)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/_codehub/open?w=dev&next=%2Fsrc%2Fa.go%3Fx%3D1" {
		t.Fatalf("/w/dev/… on the main host: %d → %q", resp.StatusCode, loc)
	}
	if resp, _ := f.do(t, "GET", "/w/Dev/", hdr); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/w/Dev/ on the main host: %d", resp.StatusCode)
	}
}

// TestNamedAgentAPI: the agent token of a named workspace names it (agent.Subject): it
// reads that workspace's status and stops that workspace only; the default workspace's
// token shape with its credential is refused.
func TestNamedAgentAPI(t *testing.T) {
	f, _ := newIdleFixture(t)
	f.be.mu.Lock()
	f.be.byUser["alice/dev"] = newUpstream(t, "alice/dev")
	f.be.running["alice"], f.be.running["alice/dev"] = true, true
	f.be.mu.Unlock()
	dev := agent.Token(agent.Subject("alice", "dev"), "cred-of-alice/dev")
	resp, st := agentReq(t, f, "GET", "/_codehub/agent/v1/status", dev, "")
	if resp.StatusCode != 200 || st["user"] != "alice" || st["workspace"] != "dev" {
		t.Fatalf("status of alice/dev: %d %v", resp.StatusCode, st)
	}
	for name, tok := range map[string]string{
		"dev's credential, the default's subject": agent.Token("alice", "cred-of-alice/dev"),
		"the default's credential, dev's subject": agent.Token(agent.Subject("alice", "dev"), "cred-of-alice"),
	} {
		if resp, _ := agentReq(t, f, "GET", "/_codehub/agent/v1/status", tok, ""); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, resp.StatusCode)
		}
	}
	if resp, _ := agentReq(t, f, "POST", "/_codehub/agent/v1/stop", dev, ""); resp.StatusCode != 200 {
		t.Fatalf("stop from alice/dev: %d", resp.StatusCode)
	}
	if f.be.stops["alice/dev"] != 1 || f.be.stops["alice"] != 0 {
		t.Fatalf("stops after alice/dev's agent stopped it: %v", f.be.stops)
	}
}
