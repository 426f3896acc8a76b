package gateway

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/codehub-dev/codehub/internal/testkit"
)

// TestLogsNeverContainSecrets forces 4xx and 5xx answers with cookies, tokens,
// passwords and code-server's reconnectionToken in the requests and checks that none of
// their values reaches the log, at debug level.
func TestLogsNeverContainSecrets(t *testing.T) {
	var logs testkit.Buffer
	f := newFixtureWith(t, 0, func(c *Config, _ string) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	f.be.running["alice"] = true
	_, body := f.doBody(t, "POST", "/_codehub/api/v1/tokens", jsonHdr(f.cookie("alice")), `{"name":"cli"}`)
	var created struct{ Token string }
	json.Unmarshal([]byte(body), &created)

	const reconnection = "5f0c2c1e-7d1e-4b8e-9c55-reconnect-secret"
	const password = "hunter2-very-secret"
	secrets := []string{f.cookies["alice"], f.cookies["bob"], created.Token, reconnection, password, "platform-session-secret"}

	f.login(t, "alice", "alice-password") // success path logs too
	requests := []struct {
		method, path string
		hdr          map[string]string
		body         string
	}{
		{"POST", "/_codehub/login", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "username=alice&password=" + password},
		// A password typed into the user-name field (issue #12 row 8).
		{"POST", "/_codehub/login", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "username=" + password + "&password=alice"},
		{"GET", "/?reconnectionToken=" + reconnection, map[string]string{"Cookie": CookieName(false) + "=" + f.cookies["alice"][:30] + "x"}, ""},
		{"GET", "/?reconnectionToken=" + reconnection + "&skipWebSocketFrames=false", map[string]string{"Cookie": f.cookie("bob"), "Upgrade": "websocket", "Connection": "Upgrade"}, ""},
		{"GET", "/_codehub/api/v1/workspaces", map[string]string{"Authorization": "Bearer " + created.Token + "x"}, ""},
		{"POST", "/_codehub/api/v1/workspaces/bob/stop", map[string]string{"Authorization": "Bearer " + created.Token}, ""},
		{"GET", "/x?tkn=" + reconnection, map[string]string{"Cookie": "session=platform-session-secret; " + f.cookie("alice")}, ""},
		{"POST", "/_codehub/logout", map[string]string{"Cookie": f.cookie("bob"), "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, ""},
	}
	for _, r := range requests {
		f.doBody(t, r.method, r.path, r.hdr, r.body)
	}
	// A dying workspace: the proxy error path logs.
	f.alice.srv.Close()
	f.doBody(t, "GET", "/?reconnectionToken="+reconnection, map[string]string{"Cookie": f.cookie("alice") + "; session=platform-session-secret", "Accept": "text/html"}, "")

	out := logs.String()
	if !strings.Contains(out, "proxy error") || !strings.Contains(out, "sign-in refused") {
		t.Fatalf("the failure paths did not log at all, the check proves nothing:\n%s", out)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(out, s) {
			t.Errorf("log contains secret %q:\n%s", s, out)
		}
	}
}
