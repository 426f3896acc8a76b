package gateway

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/identity"
)

const mainHost = "vscode.test"

func wsHost(user string) string { return identity.WorkspaceName(user) + "." + mainHost }

// handoff follows main host → /_codehub/open → workspace host handoff and returns the
// handoff URL (path+query on the workspace host).
func (f *fixture) openURL(t *testing.T, user, query string) (int, string) {
	t.Helper()
	resp, _ := f.do(t, "GET", "/_codehub/open"+query, map[string]string{"Cookie": f.cookie(user), "Host": mainHost})
	loc := resp.Header.Get("Location")
	return resp.StatusCode, loc
}

func (f *fixture) redeem(t *testing.T, handoff string) (*http.Response, string) {
	t.Helper()
	u, err := url.Parse(handoff)
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := f.do(t, "GET", u.RequestURI(), map[string]string{"Host": u.Host})
	for _, c := range resp.Cookies() {
		if c.Name == "codehub_ws" {
			return resp, c.Value
		}
	}
	return resp, ""
}

func TestPerWorkspaceOrigins(t *testing.T) {
	f := newFixtureWith(t, 0, func(c *Config, _ string) { c.WorkspaceOrigins = mainHost })
	f.be.running["alice"], f.be.running["bob"] = true, true

	// A page visit on the main host goes to the open endpoint, never to the workspace.
	resp, body := f.do(t, "GET", "/", map[string]string{"Cookie": f.cookie("alice"), "Host": mainHost, "Accept": "text/html"})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/_codehub/open") || strings.Contains(body, "workspace:") {
		t.Fatalf("main host visit: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, body := f.do(t, "GET", "/", map[string]string{"Cookie": f.cookie("alice"), "Host": mainHost}); resp.StatusCode != 404 || strings.Contains(body, "workspace:") {
		t.Fatalf("main host XHR proxied: %d %q", resp.StatusCode, body)
	}

	status, handoff := f.openURL(t, "alice", "?next=/x")
	if status != http.StatusSeeOther || !strings.HasPrefix(handoff, "http://"+wsHost("alice")+"/_codehub/handoff?") {
		t.Fatalf("open: %d %q", status, handoff)
	}
	resp, aliceWS := f.redeem(t, handoff)
	if aliceWS == "" || resp.Header.Get("Location") != "/x" {
		t.Fatalf("handoff: %d cookie=%q location=%q", resp.StatusCode, aliceWS, resp.Header.Get("Location"))
	}
	wsCookie := "codehub_ws=" + aliceWS
	if _, body := f.do(t, "GET", "/", map[string]string{"Cookie": wsCookie, "Host": wsHost("alice")}); body != "workspace:alice" {
		t.Fatalf("alice on her host: %q", body)
	}

	// Hostile cases.
	if resp, _ := f.redeem(t, handoff); resp.StatusCode != http.StatusForbidden {
		t.Errorf("replayed handoff: %d", resp.StatusCode)
	}
	_, fresh := f.openURL(t, "alice", "")
	moved := strings.Replace(fresh, wsHost("alice"), wsHost("bob"), 1)
	if resp, c := f.redeem(t, moved); resp.StatusCode != http.StatusForbidden || c != "" {
		t.Errorf("alice's handoff redeemed on bob's host: %d", resp.StatusCode)
	}
	_, stale := f.openURL(t, "alice", "")
	f.clock.Advance(2 * handoffTTL)
	if resp, _ := f.redeem(t, stale); resp.StatusCode != http.StatusForbidden {
		t.Errorf("expired handoff: %d", resp.StatusCode)
	}
	for _, tt := range []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"alice's ws cookie on bob's host", map[string]string{"Cookie": wsCookie, "Host": wsHost("bob")}, 401},
		{"main-host session on alice's host", map[string]string{"Cookie": f.cookie("alice"), "Host": wsHost("alice")}, 401},
		{"bob's main session on alice's host", map[string]string{"Cookie": f.cookie("bob"), "Host": wsHost("alice")}, 401},
		{"look-alike suffix", map[string]string{"Cookie": wsCookie, "Host": wsHost("alice") + ".evil.example"}, 421},
		{"nested host", map[string]string{"Cookie": wsCookie, "Host": "x." + wsHost("alice")}, 421},
		{"other domain", map[string]string{"Cookie": wsCookie, "Host": "evil.example"}, 421},
		{"ws: other workspace origin", map[string]string{"Cookie": wsCookie, "Host": wsHost("alice"), "Upgrade": "websocket", "Connection": "Upgrade", "Origin": "http://" + wsHost("bob")}, 403},
		{"ws: main host origin", map[string]string{"Cookie": wsCookie, "Host": wsHost("alice"), "Upgrade": "websocket", "Connection": "Upgrade", "Origin": "http://" + mainHost}, 403},
		{"ws: null origin", map[string]string{"Cookie": wsCookie, "Host": wsHost("alice"), "Upgrade": "websocket", "Connection": "Upgrade", "Origin": "null"}, 403},
		{"ws: own origin", map[string]string{"Cookie": wsCookie, "Host": wsHost("alice"), "Upgrade": "websocket", "Connection": "Upgrade", "Origin": "http://" + wsHost("alice")}, 200},
	} {
		resp, body := f.do(t, "GET", "/", tt.hdr)
		if resp.StatusCode != tt.want || (tt.want != 200 && strings.Contains(body, "workspace:")) {
			t.Errorf("%s: %d %q, want %d", tt.name, resp.StatusCode, body, tt.want)
		}
	}
	if n := f.bob.hits.Load(); n != 0 {
		t.Fatalf("bob's workspace reached %d times", n)
	}

	// alice may not open bob's workspace; the admin may, in this mode only.
	if status, _ := f.openURL(t, "alice", "?workspace="+identity.WorkspaceName("bob")); status != http.StatusForbidden {
		t.Errorf("alice opening bob's workspace: %d", status)
	}
	f.gw.handoffs.owners.Store(identity.WorkspaceName("bob"), backend.Default("bob"))
	status, rootHandoff := f.openURL(t, "root", "?workspace="+identity.WorkspaceName("bob"))
	if status != http.StatusSeeOther {
		t.Fatalf("admin open: %d", status)
	}
	_, rootWS := f.redeem(t, rootHandoff)
	if _, body := f.do(t, "GET", "/", map[string]string{"Cookie": "codehub_ws=" + rootWS, "Host": wsHost("bob")}); body != "workspace:bob" {
		t.Fatalf("admin on bob's host: %q", body)
	}
}
