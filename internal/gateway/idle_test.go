package gateway

import (
	"context"
	"encoding/binary"
	"encoding/json"

	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/codehub-dev/codehub/internal/agent"
	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/vsproto"
)

// recBackend is mapBackend plus the activity store and stop notices of a real backend.
type recBackend struct {
	*mapBackend
	mu      sync.Mutex
	records map[string][]time.Time
	notify  []func(ref backend.Ref, reason string)
}

func (b *recBackend) RecordActivity(_ context.Context, ref backend.Ref, at time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.records[ref.String()] = append(b.records[ref.String()], at)
	return nil
}

func (b *recBackend) NotifyStops(fn func(ref backend.Ref, reason string)) {
	b.mu.Lock()
	b.notify = append(b.notify, fn)
	b.mu.Unlock()
}

func (b *recBackend) recorded(user string) []time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]time.Time(nil), b.records[user]...)
}

func newIdleFixture(t *testing.T) (*fixture, *recBackend) {
	var rb *recBackend
	f := newFixtureWith(t, 0, func(c *Config, _ string) {
		rb = &recBackend{mapBackend: c.Backend.(*mapBackend), records: map[string][]time.Time{}}
		c.Backend = rb
		c.ActivityFlush = time.Hour // tests flush by hand
	})
	return f, rb
}

// wsUpstream is a stand-in workspace that accepts WebSockets (with permessage-deflate, as
// code-server does) and reports each message it reads on got: a message has passed the
// gateway's follower once it is there.
func wsUpstream(t *testing.T) (*upstream, chan []byte) {
	u, got := &upstream{}, make(chan []byte, 64)
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true, CompressionMode: websocket.CompressionContextTakeover})
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			_, data, err := c.Read(context.Background())
			if err != nil {
				return
			}
			got <- data
		}
	}))
	t.Cleanup(u.srv.Close)
	return u, got
}

// arrived waits until n messages reached the stand-in workspace.
func arrived(t *testing.T, got chan []byte, n int) {
	t.Helper()
	for range n {
		select {
		case <-got:
		case <-time.After(10 * time.Second):
			t.Fatal("a message never reached the workspace")
		}
	}
}

// dialWorkbench opens a workbench connection (VS Code's query) through the gateway.
// openWorkbench runs alice's workspace at up and opens her workbench connection, closed when
// the test ends.
func openWorkbench(t *testing.T, f *fixture, up *upstream) *websocket.Conn {
	t.Helper()
	f.be.mu.Lock()
	f.be.byUser["alice"], f.be.running["alice"] = up, true
	f.be.mu.Unlock()
	c, err := dialWorkbench(t, f, "alice")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func dialWorkbench(t *testing.T, f *fixture, user string) (*websocket.Conn, error) {
	h := http.Header{"Origin": {f.srv.URL}}
	if user != "" {
		h.Set("Cookie", f.cookie(user))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := strings.Replace(f.srv.URL, "http://", "ws://", 1) + "/?reconnectionToken=0f7e&reconnection=true&skipWebSocketFrames=false"
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h, CompressionMode: websocket.CompressionContextTakeover})
	return c, err
}

func pmsg(typ vsproto.Type, body []byte) []byte {
	h := make([]byte, vsproto.HeaderLen, vsproto.HeaderLen+len(body))
	h[0] = byte(typ)
	binary.BigEndian.PutUint32(h[9:], uint32(len(body)))
	return append(h, body...)
}

// ipcCall is a management-connection IPC request [100, id, channel, command].
func ipcCall(channel, command string) []byte {
	b := []byte{4, 4, 6, 100, 6, 1, 1, byte(len(channel))}
	b = append(b, channel...)
	b = append(b, 1, byte(len(command)))
	b = append(b, command...)
	return append(b, 0)
}

func send(t *testing.T, c *websocket.Conn, msgs ...[]byte) {
	t.Helper()
	for _, m := range msgs {
		if err := c.Write(context.Background(), websocket.MessageBinary, m); err != nil {
			t.Fatal(err)
		}
	}
}

// TestActivityIsAPersonNotAConnection: an open workbench connection's handshake,
// keep-alives, acks and automatic requests are not activity; a terminal keystroke is, and
// so is a page visit. Nothing is stored before the flush hands it to the backend.
func TestActivityIsAPersonNotAConnection(t *testing.T) {
	f, rb := newIdleFixture(t)
	up, got := wsUpstream(t)
	c := openWorkbench(t, f, up)
	send(t, c,
		pmsg(vsproto.TypeControl, []byte(`{"type":"auth","auth":"00000000000000000000","data":"x"}`)),
		pmsg(vsproto.TypeControl, []byte(`{"type":"connectionType","commit":"c","signedData":"s","desiredConnectionType":1}`)),
		pmsg(vsproto.TypeKeepAlive, nil), pmsg(vsproto.TypeAck, nil),
		pmsg(vsproto.TypeRegular, ipcCall("remoteFilesystem", "stat")),
		pmsg(vsproto.TypeKeepAlive, nil))
	arrived(t, got, 6)
	f.gw.FlushActivity(context.Background())
	if got := rb.recorded("alice"); len(got) != 0 {
		t.Fatalf("handshake, keep-alives, acks and an automatic stat were recorded as activity: %v", got)
	}

	f.clock.Advance(time.Minute)
	send(t, c, pmsg(vsproto.TypeRegular, ipcCall("remoteterminal", "$input")))
	arrived(t, got, 1)
	waitRecorded := func(what string, n int) {
		t.Helper()
		f.gw.FlushActivity(context.Background())
		if got := rb.recorded("alice"); len(got) != n || !got[n-1].Equal(f.clock.Now()) {
			t.Fatalf("after %s: recorded %v, want %d marks, the last at %v", what, got, n, f.clock.Now())
		}
	}
	waitRecorded("a terminal keystroke", 1)

	f.clock.Advance(time.Minute)
	f.do(t, "GET", "/static/x.js", map[string]string{"Cookie": f.cookie("alice"), "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "script"})
	f.gw.FlushActivity(context.Background())
	if got := rb.recorded("alice"); len(got) != 1 {
		t.Fatalf("a script load was recorded as activity: %v", got)
	}
	f.do(t, "GET", "/", map[string]string{"Cookie": f.cookie("alice"), "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"})
	waitRecorded("a page visit", 2)
}

// readHandshakeError sends the workbench's auth message and returns the reason of the
// control error the gateway answers with.
func readHandshakeError(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	send(t, c, pmsg(vsproto.TypeControl, []byte(`{"type":"auth","auth":"00000000000000000000","data":"x"}`)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	typ, data, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("no answer to the handshake: %v", err)
	}
	if typ != websocket.MessageBinary || len(data) < vsproto.HeaderLen || vsproto.Type(data[0]) != vsproto.TypeControl {
		t.Fatalf("answer %v %q is not a control message", typ, data)
	}
	var msg struct{ Type, Reason string }
	if err := json.Unmarshal(data[vsproto.HeaderLen:], &msg); err != nil || msg.Type != "error" {
		t.Fatalf("control message %q: %v", data[vsproto.HeaderLen:], err)
	}
	if _, _, err := c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("after the error: %v, want a normal close", err)
	}
	return msg.Reason
}

// TestStoppedOrSignedOutTabIsToldToReload: the reconnect of a workbench whose workspace
// is not running, or whose user is signed out, gets VS Code's permanent handshake error
// (not a 503/401 it would retry forever) and never starts the workspace.
func TestStoppedOrSignedOutTabIsToldToReload(t *testing.T) {
	f, _ := newIdleFixture(t)
	c, err := dialWorkbench(t, f, "alice") // alice's workspace is stopped
	if err != nil {
		t.Fatalf("reconnect of a stopped workspace: %v", err)
	}
	if r := readHandshakeError(t, c); !strings.Contains(r, "not running") {
		t.Fatalf("stopped workspace: reason %q", r)
	}
	if n := f.be.starts["alice"]; n != 0 {
		t.Fatalf("the reconnect started the workspace %d times", n)
	}
	c, err = dialWorkbench(t, f, "") // no session
	if err != nil {
		t.Fatalf("reconnect without a session: %v", err)
	}
	if r := readHandshakeError(t, c); !strings.Contains(r, "signed out") {
		t.Fatalf("signed out: reason %q", r)
	}
	// Only the gateway's own origin: a page elsewhere gets nothing.
	h := http.Header{"Origin": {"http://evil.example"}}
	_, resp, err := websocket.Dial(context.Background(), strings.Replace(f.srv.URL, "http://", "ws://", 1)+"/?reconnectionToken=x&reconnection=true", &websocket.DialOptions{HTTPHeader: h})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin reconnect: %v %v, want 403", err, resp)
	}
}

// TestBackendStopClosesTheTabsConnections: when the backend stops a workspace by itself,
// its route goes and its open connections get close code 4002 at once.
func TestBackendStopClosesTheTabsConnections(t *testing.T) {
	f, rb := newIdleFixture(t)
	up, _ := wsUpstream(t)
	c := openWorkbench(t, f, up)
	if len(rb.notify) != 1 {
		t.Fatalf("the gateway registered %d stop notices", len(rb.notify))
	}
	f.be.Stop(context.Background(), backend.Default("alice"))
	rb.notify[0](backend.Default("alice"), "idle")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err := c.Read(ctx)
	if code := websocket.CloseStatus(err); code != closeWorkspaceStopped {
		t.Fatalf("open connection after the stop: %v (close %d), want close %d", err, code, closeWorkspaceStopped)
	}
	if _, ok := f.gw.routes.get(backend.Default("alice")); ok {
		t.Fatal("route kept after the stop notice")
	}
}

func agentReq(t *testing.T, f *fixture, method, path, token, body string) (*http.Response, map[string]any) {
	t.Helper()
	hdr := map[string]string{"Content-Type": "application/json"}
	if token != "" {
		hdr["Authorization"] = "Bearer " + token
	}
	resp, raw := f.doBody(t, method, path, hdr, body)
	var out map[string]any
	_ = json.Unmarshal([]byte(raw), &out)
	return resp, out
}

// TestAgentAPIActsOnItsOwnWorkspaceOnly: the agent token of alice's running workspace
// reads its status, keeps it running and stops it; a token made with another workspace's
// credential, a stopped workspace's token, and no token get 401.
func TestAgentAPIActsOnItsOwnWorkspaceOnly(t *testing.T) {
	f, rb := newIdleFixture(t)
	f.be.running["alice"], f.be.running["bob"] = true, true
	alice := agent.Token("alice", "cred-of-alice")
	resp, st := agentReq(t, f, "GET", "/_codehub/agent/v1/status", alice, "")
	if resp.StatusCode != 200 || st["user"] != "alice" || st["state"] != "Running" || st["now"] == nil {
		t.Fatalf("status: %d %v", resp.StatusCode, st)
	}
	for name, tok := range map[string]string{
		"bob's credential claiming alice": agent.Token("alice", "cred-of-bob"),
		"no token":                        "",
		"garbage":                         "chagent_x.y",
	} {
		if resp, _ := agentReq(t, f, "GET", "/_codehub/agent/v1/status", tok, ""); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, resp.StatusCode)
		}
	}
	// Not a browser door: the session cookie alone does not reach it.
	if resp, _ := f.do(t, "GET", "/_codehub/agent/v1/status", map[string]string{"Cookie": f.cookie("alice")}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("session cookie on the agent API: %d, want 401", resp.StatusCode)
	}

	f.clock.Advance(time.Minute)
	if resp, _ := agentReq(t, f, "POST", "/_codehub/agent/v1/activity", alice, `{"kind":"keep-running"}`); resp.StatusCode != 200 {
		t.Fatalf("keep running: %d", resp.StatusCode)
	}
	if got := rb.recorded("alice"); len(got) != 1 || !got[0].Equal(f.clock.Now()) {
		t.Fatalf("keep running recorded %v, want [%v]", got, f.clock.Now())
	}
	if got := rb.recorded("bob"); len(got) != 0 {
		t.Fatalf("alice's keep running touched bob: %v", got)
	}
	if resp, _ := agentReq(t, f, "POST", "/_codehub/agent/v1/activity", alice, `{"kind":"anything"}`); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("unknown kind: %d", resp.StatusCode)
	}
	if resp, _ := agentReq(t, f, "POST", "/_codehub/agent/v1/stop", alice, `{}`); resp.StatusCode != 200 || f.be.stops["alice"] != 1 || f.be.stops["bob"] != 0 {
		t.Fatalf("stop: %d, stops %v", resp.StatusCode, f.be.stops)
	}
	if resp, _ := agentReq(t, f, "GET", "/_codehub/agent/v1/status", alice, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a stopped workspace's token: %d, want 401", resp.StatusCode)
	}
	// The same handler serves the local backend's agent socket.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/_codehub/agent/v1/status", nil)
	req.Header.Set("Authorization", "Bearer "+agent.Token("bob", "cred-of-bob"))
	f.gw.AgentHandler().ServeHTTP(rec, req)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"user":"bob"`) {
		t.Fatalf("AgentHandler: %d %s", rec.Code, rec.Body)
	}
}
