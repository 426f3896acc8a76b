package gateway

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/session"
)

// namedFixture is the gateway over capBackend with ProfileSetter and Deleter, alice's
// default workspace and her workspace dev running; origins turns on per-workspace origins.
func namedFixture(t *testing.T, origins bool) (*fixture, *upstream, *capBackend) {
	t.Helper()
	var cb *capBackend
	f := newFixtureWith(t, 0, func(c *Config, _ string) {
		cb = newCapBackend(c.Backend.(*mapBackend))
		c.Backend = withAll{withProfiles{cb}}
		if origins {
			c.WorkspaceOrigins = mainHost
		}
	})
	dev := newUpstream(t, "alice/dev")
	f.be.mu.Lock()
	f.be.byUser["alice/dev"] = dev
	f.be.running["alice"], f.be.running["alice/dev"], f.be.running["bob"] = true, true, true
	f.be.mu.Unlock()
	return f, dev, cb
}

// TestNamedPathRouting: without per-workspace origins a named workspace is at /w/<name>/
// for its owner only, with the prefix taken off; no path reaches another user's.
func TestNamedPathRouting(t *testing.T) {
	f, dev, _ := namedFixture(t, false)
	alice, bob := map[string]string{"Cookie": f.cookie("alice")}, map[string]string{"Cookie": f.cookie("bob")}
	if resp, body := f.do(t, "GET", "/w/dev/some/file.js?v=1", alice); resp.StatusCode != 200 || body != "workspace:alice/dev" || *dev.lastPath.Load() != "/some/file.js?v=1" {
		t.Fatalf("alice /w/dev/: %d %q, upstream saw %q", resp.StatusCode, body, *dev.lastPath.Load())
	}
	if resp, body := f.do(t, "GET", "/w/dev/", alice); resp.StatusCode != 200 || *dev.lastPath.Load() != "/" {
		t.Fatalf("alice /w/dev/: %d %q, upstream saw %q", resp.StatusCode, body, *dev.lastPath.Load())
	}
	if _, body := f.do(t, "GET", "/", alice); body != "workspace:alice" {
		t.Fatalf("alice / reached %q, want her default workspace", body)
	}
	resp, _ := f.do(t, "GET", "/w/dev?x=1", alice)
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/w/dev/?x=1" {
		t.Fatalf("/w/dev: %d → %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// code-server's login page is the gateway's: back to the workspace the path was in.
	for _, path := range []string{"/login", "/w/dev/login"} {
		resp, _ := f.do(t, "GET", path, alice)
		loc, _ := resp.Request.URL.Parse(resp.Header.Get("Location"))
		if want := strings.TrimSuffix(path, "login"); resp.StatusCode != http.StatusSeeOther || loc == nil || loc.Path != want {
			t.Errorf("GET %s: %d → %v, want %s", path, resp.StatusCode, loc, want)
		}
	}
	hits := dev.hits.Load()
	for _, tt := range []struct {
		name string
		hdr  map[string]string
		path string
		want int
	}{
		{"bob, alice's name", bob, "/w/dev/", 404},
		{"bob, a visit", map[string]string{"Cookie": f.cookie("bob"), "Accept": "text/html"}, "/w/dev/", 404},
		{"bob, her full name", bob, "/w/" + identity.NamedWorkspaceName("alice", "dev") + "/", 404},
		{"bob, user/name", bob, "/w/alice/dev/", 404},
		{"bob, encoded slash", bob, "/w/alice%2Fdev/", 404},
		{"bob, dot-dot", bob, "/w/../w/dev/", 404},
		{"bob, encoded dot-dot", bob, "/w/%2e%2e/w/dev/", 404},
		{"alice, upper case", alice, "/w/Dev/", 404},
		{"alice, two dashes", alice, "/w/a--b/", 404},
		{"alice, empty name", alice, "/w//", 404},
		{"alice, reserved name", alice, "/w/default/", 404},
		{"alice, none of that name", alice, "/w/other/", 404},
		{"alice, the gateway's paths under it", alice, "/w/dev/_codehub/api/v1/workspace", 404},
		{"anonymous", nil, "/w/dev/", 401},
	} {
		resp, body := f.do(t, "GET", tt.path, tt.hdr)
		if resp.StatusCode != tt.want || strings.Contains(body, "workspace:alice/dev") {
			t.Errorf("%s: GET %s = %d %q, want %d", tt.name, tt.path, resp.StatusCode, body, tt.want)
		}
	}
	if n := dev.hits.Load(); n != hits {
		t.Fatalf("alice/dev reached %d times by requests that must not reach it", n-hits)
	}
	// A named workspace's /proxy/<port>/ leaves for its own port origin, never the main host.
	resp, _ = f.do(t, "GET", "/w/dev/proxy/8000/x", map[string]string{"Cookie": f.cookie("alice"), "Accept": "text/html"})
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "p8000--"+identity.NamedWorkspaceName("alice", "dev")+".localhost") || !strings.HasSuffix(loc, "/x") {
		t.Fatalf("/w/dev/proxy/8000/x: %d → %q", resp.StatusCode, loc)
	}
	// Stopping alice/dev drops its route only.
	if err := f.gw.stopWorkspace(t.Context(), "alice", backend.Ref{User: "alice", Name: "dev"}, "test"); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.gw.routes.get(backend.Default("alice")); !ok {
		t.Fatal("stopping alice/dev dropped alice's default route")
	}
	if resp, _ := f.do(t, "GET", "/w/dev/", alice); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("XHR to the stopped alice/dev: %d, want 503 (no wake)", resp.StatusCode)
	}
}

// TestNamedOrigins: with per-workspace origins a named workspace has its own host, for
// its owner (and admins, audited); another user gets no handoff to it.
func TestNamedOrigins(t *testing.T) {
	f, dev, _ := namedFixture(t, true)
	devName := identity.NamedWorkspaceName("alice", "dev")
	status, handoff := f.openURL(t, "alice", "?w=dev&next=/x")
	if status != http.StatusSeeOther || !strings.HasPrefix(handoff, "http://"+devName+"."+mainHost+"/_codehub/handoff?") {
		t.Fatalf("alice opening dev: %d %q", status, handoff)
	}
	_, cookie := f.redeem(t, handoff)
	if cookie == "" {
		t.Fatal("no cookie for alice's dev host")
	}
	resp, body := f.do(t, "GET", "/y", map[string]string{"Host": devName + "." + mainHost, "Cookie": "codehub_ws=" + cookie})
	if resp.StatusCode != 200 || body != "workspace:alice/dev" {
		t.Fatalf("alice on her dev host: %d %q", resp.StatusCode, body)
	}
	// alice's default host's cookie does not open dev's host.
	_, defHandoff := f.openURL(t, "alice", "")
	_, defCookie := f.redeem(t, defHandoff)
	if resp, body := f.do(t, "GET", "/", map[string]string{"Host": devName + "." + mainHost, "Cookie": "codehub_ws=" + defCookie}); resp.StatusCode == 200 || strings.Contains(body, "workspace:") {
		t.Fatalf("the default host's cookie on dev's host: %d %q", resp.StatusCode, body)
	}
	hits := dev.hits.Load()
	for _, q := range []string{"?workspace=" + devName, "?w=Dev", "?port=8000&workspace=" + devName} {
		status, loc := f.openURL(t, "bob", q)
		if strings.Contains(loc, devName) || (status != http.StatusForbidden && status != http.StatusNotFound) {
			t.Errorf("bob open%s: %d %q", q, status, loc)
		}
	}
	// ?w=dev is bob's own workspace dev (whose host says he has none), never alice's.
	if status, loc := f.openURL(t, "bob", "?w=dev"); status != http.StatusSeeOther || !strings.HasPrefix(loc, "http://"+identity.NamedWorkspaceName("bob", "dev")+"."+mainHost+"/") {
		t.Errorf("bob open?w=dev: %d %q", status, loc)
	}
	if n := dev.hits.Load(); n != hits {
		t.Fatalf("bob reached alice/dev %d times", n-hits)
	}
	// An admin may open it, and that is audited.
	status, rootHandoff := f.openURL(t, "root", "?workspace="+devName)
	if status != http.StatusSeeOther || !strings.HasPrefix(rootHandoff, "http://"+devName+"."+mainHost+"/") {
		t.Fatalf("admin open: %d %q", status, rootHandoff)
	}
	found := false
	for _, e := range f.gw.cfg.Audit.Recent(0) {
		found = found || (e.Action == "workspace.open-as-admin" && e.Actor == "root" && e.Workspace == devName)
	}
	if !found {
		t.Error("the admin's open of alice/dev was not audited")
	}
	// Even a cookie sealed for dev's host but carrying bob (no handoff issues one: defence in
	// depth) gets him nothing there.
	forged, err := f.gw.handoffs.codec(f.gw.cfg.Codec, "ws", devName).Seal(session.For(identity.Identity{User: "bob"}, f.clock.Now(), time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := f.do(t, "GET", "/", map[string]string{"Host": devName + "." + mainHost, "Cookie": "codehub_ws=" + forged}); resp.StatusCode != http.StatusForbidden || strings.Contains(body, "workspace:") {
		t.Fatalf("bob with a cookie for alice/dev's host: %d %q", resp.StatusCode, body)
	}
	// Port hosts of a named workspace: owner only.
	portHost := portLabel(devName, 8000) + "." + mainHost
	resp, _ = f.do(t, "GET", "/", map[string]string{"Host": portHost, "Accept": "text/html"})
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc == nil || loc.Query().Get("workspace") != devName || loc.Query().Get("port") != "8000" {
		t.Fatalf("sign-in link of dev's port host: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if status, loc := f.openURL(t, "alice", "?"+loc.RawQuery); status != http.StatusSeeOther || !strings.Contains(loc, portHost) {
		t.Fatalf("alice's port handoff for dev: %d %q", status, loc)
	}
}

// TestNamedHomePage: the home page lists the named workspaces with their links and
// buttons, offers the create form below the limit, and creating one opens it.
func TestNamedHomePage(t *testing.T) {
	f, _, cb := namedFixture(t, false)
	alice := map[string]string{"Cookie": f.cookie("alice")}
	_, body := f.do(t, "GET", "/_codehub/", alice)
	for _, want := range []string{`href="/w/dev/" id="open-dev"`, `id="stop-dev"`, `id="delete-dev"`, `id="create-named"`, "up to 3 workspaces", "<h1>Your workspaces</h1>"} {
		if !strings.Contains(body, want) {
			t.Errorf("home page lacks %q", want)
		}
	}
	if _, bobBody := f.do(t, "GET", "/_codehub/", map[string]string{"Cookie": f.cookie("bob")}); strings.Contains(bobBody, "/w/dev/") || !strings.Contains(bobBody, "<h1>Your workspace</h1>") {
		t.Error("bob's home page lists alice's workspace dev, or does not speak of his one workspace")
	}
	csrf, prof := f.csrf(t, "alice"), f.gw.cfg.Profiles.All()[0].Name
	resp, _ := f.post(t, "/_codehub/workspace", alice, form(csrf, "action", "create", "name", "ml", "profile", prof))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/w/ml/" || f.be.starts["alice/ml"] != 1 {
		t.Fatalf("create ml: %d → %q, starts %d", resp.StatusCode, resp.Header.Get("Location"), f.be.starts["alice/ml"])
	}
	// Three now (default, dev, ml): no form, and a fourth is refused.
	if _, body := f.do(t, "GET", "/_codehub/", alice); strings.Contains(body, `id="create-named"`) || !strings.Contains(body, "delete one to create another") {
		t.Error("the create form is offered at the limit")
	}
	resp, body = f.post(t, "/_codehub/workspace", alice, form(csrf, "action", "create", "name", "four", "profile", prof))
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "the most allowed here") || f.be.starts["alice/four"] != 0 {
		t.Fatalf("a fourth: %d, starts %d", resp.StatusCode, f.be.starts["alice/four"])
	}
	for _, bad := range []string{"Bad", "a--b", "default", "../x"} {
		if resp, body := f.post(t, "/_codehub/workspace", alice, form(csrf, "action", "create", "name", bad, "profile", prof)); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "workspace name") {
			t.Errorf("create %q: %d", bad, resp.StatusCode)
		}
	}
	// Delete of a named one says what happens to its files and touches nothing else.
	resp, body = f.post(t, "/_codehub/workspace", alice, form(csrf, "action", "delete", "name", "dev"))
	if resp.StatusCode != 200 || !strings.Contains(body, "Your other workspaces are not touched") || cb.deletes["alice/dev"] != 0 {
		t.Fatalf("delete dev without confirmation: %d", resp.StatusCode)
	}
	if resp, _ := f.post(t, "/_codehub/workspace", alice, form(csrf, "action", "delete", "name", "dev", "confirm", "yes")); resp.StatusCode != http.StatusSeeOther || cb.deletes["alice/dev"] != 1 || cb.deletes["alice"] != 0 {
		t.Fatalf("delete dev: %d, deletes %v", resp.StatusCode, cb.deletes)
	}
}

// TestNamedAdminPage: the admin page lists named workspaces with buttons that act on them
// alone.
func TestNamedAdminPage(t *testing.T) {
	f, _, _ := namedFixture(t, false)
	root := map[string]string{"Cookie": f.cookie("root")}
	_, body := f.do(t, "GET", "/_codehub/admin", root)
	if !strings.Contains(body, `data-workspace="dev"`) || !strings.Contains(body, `aria-label="Stop alice's workspace dev"`) {
		t.Fatalf("the admin page does not list alice/dev with its own buttons:\n%s", body)
	}
	csrf := f.csrf(t, "root")
	if resp, body := f.post(t, "/_codehub/admin/workspace", root, form(csrf, "action", "stop", "user", "alice", "name", "dev")); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("admin stop alice/dev: %d %s", resp.StatusCode, body)
	}
	if f.be.stops["alice/dev"] != 1 || f.be.stops["alice"] != 0 {
		t.Fatalf("stops after the admin stopped alice/dev: %v", f.be.stops)
	}
	if resp, _ := f.post(t, "/_codehub/admin/workspace", root, form(csrf, "action", "stop", "user", "alice", "name", "../x")); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("admin stop with a bad name: %d", resp.StatusCode)
	}
}

// TestNamedOffWithLimitOne: --max-workspaces 1 offers no named workspace and creates none.
func TestNamedOffWithLimitOne(t *testing.T) {
	f, _, _ := namedFixture(t, false)
	f.gw.cfg.MaxWorkspaces = 1
	alice := map[string]string{"Cookie": f.cookie("alice")}
	if _, body := f.do(t, "GET", "/_codehub/", alice); strings.Contains(body, "Create a named workspace") {
		t.Error("the home page offers named workspaces with a limit of 1")
	}
	resp, body := f.post(t, "/_codehub/workspace", alice, form(f.csrf(t, "alice"), "action", "create", "name", "ml", "profile", f.gw.cfg.Profiles.All()[0].Name))
	if resp.StatusCode == http.StatusSeeOther || !strings.Contains(body, "the most allowed here (1") || f.be.starts["alice/ml"] != 0 {
		t.Fatalf("create with a limit of 1: %d, starts %d", resp.StatusCode, f.be.starts["alice/ml"])
	}
}

// TestNamedPagesAuthorization: the pages' forms with a workspace name act on the caller's
// own workspace of that name only (the admin page's on the named user's); see the table
// of docs/dashboard.md.
func TestNamedPagesAuthorization(t *testing.T) {
	f, _, cb := namedFixture(t, false)
	tok := f.mint(t, "alice")
	aliceCSRF, rootCSRF := f.csrf(t, "alice"), f.csrf(t, "root")
	callers := []struct {
		name string
		hdr  map[string]string
		csrf string
	}{
		{"anonymous", nil, ""},
		{"token", tok, aliceCSRF},
		{"other user", map[string]string{"Cookie": f.cookie("bob")}, aliceCSRF},
		{"admin", map[string]string{"Cookie": f.cookie("root")}, rootCSRF},
		{"user", map[string]string{"Cookie": f.cookie("alice")}, aliceCSRF},
	}
	rows := []struct {
		path   string
		fields []string
		want   [5]int // anonymous, token, other user, admin, user
	}{
		{"/_codehub/workspace", []string{"action", "stop", "name", "dev"}, [5]int{401, 401, 403, 303, 303}},
		{"/_codehub/workspace", []string{"action", "delete", "name", "dev"}, [5]int{401, 401, 403, 200, 200}}, // the confirmation page
		{"/_codehub/workspace", []string{"action", "stop", "name", "../dev"}, [5]int{401, 401, 403, 400, 400}},
		{"/_codehub/admin/workspace", []string{"action", "stop", "user", "alice", "name", "dev"}, [5]int{401, 401, 403, 303, 403}},
	}
	for _, row := range rows {
		for i, c := range callers {
			resp, body := f.post(t, row.path, c.hdr, form(c.csrf, row.fields...))
			if resp.StatusCode != row.want[i] {
				t.Errorf("POST %s %v as %s: %d, want %d\n%.300s", row.path, row.fields, c.name, resp.StatusCode, row.want[i], body)
			}
		}
	}
	// alice/dev was stopped by alice and by the admin's admin-page form, nothing else of hers.
	if f.be.stops["alice/dev"] != 2 || f.be.stops["alice"] != 0 || f.be.stops["bob/dev"] != 0 || len(cb.deletes) != 0 {
		t.Fatalf("stops %v deletes %v", f.be.stops, cb.deletes)
	}
}
