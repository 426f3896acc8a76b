package gateway

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/identity"
)

// rowsOf names the users of a table's rows (data-user) on a page.
func rowsOf(body, table string) []string {
	i := strings.Index(body, `<table id="`+table+`">`)
	if i < 0 {
		return nil
	}
	part := body[i:]
	part = part[:strings.Index(part, "</table>")]
	var out []string
	for _, m := range regexp.MustCompile(`data-user="([^"]+)"`).FindAllStringSubmatch(part, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestAdminPageWorkspaces: every workspace is listed with filters; an admin's stop drops
// the route as the backend's own stop does; "stop all idle" stops only the idle ones; the
// events list what was done.
func TestAdminPageWorkspaces(t *testing.T) {
	f, cb := pagesFixture(t, true, twoProfiles)
	f.be.running["alice"], f.be.running["bob"] = true, true
	cb.profiles["bob"] = "gpu"
	now := f.clock.Now()
	cb.activity["alice"], cb.activity["bob"] = now.Add(-2*time.Hour), now.Add(-time.Minute)
	root := map[string]string{"Cookie": f.cookie("root")}
	_, body := f.do(t, "GET", "/_codehub/admin", root)
	if got := strings.Join(rowsOf(body, "workspaces"), ","); got != "alice,bob,root" {
		t.Fatalf("workspaces listed: %s", got)
	}
	for _, want := range []string{"gpu", "memory 8Gi–16Gi · 1 GPU", "2 h 0 min ago", "Stopped", "Admins cannot open other users' workspaces on a single host"} {
		if !strings.Contains(body, want) {
			t.Errorf("admin page lacks %q", want)
		}
	}
	for q, want := range map[string]string{"?user=BO": "bob", "?state=Stopped": "root", "?profile=gpu": "bob", "?state=Running&profile=small": "alice"} {
		if _, body := f.do(t, "GET", "/_codehub/admin"+q, root); strings.Join(rowsOf(body, "workspaces"), ",") != want {
			t.Errorf("filter %s: rows %v, want %s", q, rowsOf(body, "workspaces"), want)
		}
	}
	// bob has a route (an open tab); the admin's stop drops it.
	if resp, body := f.do(t, "GET", "/", map[string]string{"Cookie": f.cookie("bob")}); body != "workspace:bob" {
		t.Fatalf("bob's workspace: %d %q", resp.StatusCode, body)
	}
	csrf := f.csrf(t, "root")
	resp, _ := f.post(t, "/_codehub/admin/workspace", root, form(csrf, "action", "stop", "user", "bob", "filter_user", "bo"))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/_codehub/admin?done=admin-stopped&user=bo" {
		t.Fatalf("stop bob: %d → %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, ok := f.gw.routes.get(backend.Default("bob")); ok || f.be.stops["bob"] != 1 {
		t.Fatalf("after the admin's stop: route kept %v, stops %d", ok, f.be.stops["bob"])
	}
	f.be.running["bob"] = true
	resp, body = f.post(t, "/_codehub/admin/stop-idle", root, form(csrf, "minutes", "30"))
	if resp.StatusCode != 200 || !strings.Contains(body, "Stopped 1 idle workspaces: alice.") || f.be.stops["alice"] != 1 || f.be.stops["bob"] != 1 {
		t.Fatalf("stop all idle: %d stops %v\n%s", resp.StatusCode, f.be.stops, body)
	}
	resp, body = f.post(t, "/_codehub/admin/workspace", root, form(csrf, "action", "delete", "user", "bob"))
	if resp.StatusCode != 200 || !strings.Contains(body, "every file in it") || cb.deletes["bob"] != 0 {
		t.Fatalf("delete needs its confirmation: %d %v", resp.StatusCode, cb.deletes)
	}
	f.post(t, "/_codehub/admin/workspace", root, form(csrf, "action", "delete", "user", "bob", "confirm", "yes"))
	if cb.deletes["bob"] != 1 {
		t.Fatalf("deletes %v", cb.deletes)
	}
	_, body = f.do(t, "GET", "/_codehub/admin", root)
	events := body[strings.Index(body, `<table id="events">`):]
	for _, want := range []string{"<td>root</td><td>workspace.delete</td><td>bob (", "<td>root</td><td>workspace.stop</td><td>alice (", "stop all idle for 30 min", "<td>root</td><td>workspace.stop</td><td>bob ("} {
		if !strings.Contains(events, want) {
			t.Errorf("recent events lack %q", want)
		}
	}
}

// TestAdminPageUsers: add (generated password shown once, and it signs in), reset the
// password (the old sessions end), make admin, delete (sessions, tokens and workspace end at
// once); an admin cannot delete or demote themselves here.
func TestAdminPageUsers(t *testing.T) {
	f, cb := pagesFixture(t, true, twoProfiles)
	root := map[string]string{"Cookie": f.cookie("root")}
	csrf := f.csrf(t, "root")
	resp, body := f.post(t, "/_codehub/admin/user", root, form(csrf, "action", "add", "user", "dave"))
	pw := regexp.MustCompile(`id="password-secret">([^<]+)<`).FindStringSubmatch(body)
	if resp.StatusCode != 200 || pw == nil {
		t.Fatalf("add dave: %d\n%s", resp.StatusCode, body)
	}
	dave := f.login(t, "dave", pw[1])
	if resp, _ := f.post(t, "/_codehub/admin/user", root, form(csrf, "action", "add", "user", "dave")); resp.StatusCode != http.StatusConflict {
		t.Fatalf("adding dave twice: %d", resp.StatusCode)
	}
	if resp, _ := f.do(t, "GET", "/_codehub/admin", map[string]string{"Cookie": CookieName(false) + "=" + dave}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("dave's admin page before grant: %d", resp.StatusCode)
	}
	f.clock.Advance(2 * time.Second)
	resp, body = f.post(t, "/_codehub/admin/user", root, form(csrf, "action", "password", "user", "dave"))
	npw := regexp.MustCompile(`id="password-secret">([^<]+)<`).FindStringSubmatch(body)
	if resp.StatusCode != 200 || npw == nil || npw[1] == pw[1] {
		t.Fatalf("reset dave's password: %d", resp.StatusCode)
	}
	if resp, _ := f.do(t, "GET", "/_codehub/", map[string]string{"Cookie": CookieName(false) + "=" + dave}); resp.StatusCode != 401 {
		t.Fatalf("dave's session after the reset: %d", resp.StatusCode)
	}
	f.clock.Advance(2 * time.Second)
	if resp, _ := f.post(t, "/_codehub/admin/user", root, form(csrf, "action", "grant", "user", "dave")); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("grant: %d", resp.StatusCode)
	}
	f.clock.Advance(2 * time.Second)
	dave = f.login(t, "dave", npw[1])
	if resp, _ := f.do(t, "GET", "/_codehub/admin", map[string]string{"Cookie": CookieName(false) + "=" + dave}); resp.StatusCode != 200 {
		t.Fatalf("dave's admin page after grant: %d", resp.StatusCode)
	}

	// Deleting bob ends his session, his token and his running workspace at once.
	f.be.running["bob"] = true
	bobTok, _, _ := f.gw.cfg.Tokens.Create("bob", true, "cli", 0, f.clock.Now())
	resp, body = f.post(t, "/_codehub/admin/user", root, form(csrf, "action", "delete", "user", "bob"))
	if resp.StatusCode != 200 || !strings.Contains(body, "open tabs and API tokens end now") || !strings.Contains(body, "Also delete their workspace and all its files") {
		t.Fatalf("delete confirmation: %d", resp.StatusCode)
	}
	if _, _, ok := f.store.Account("bob"); !ok {
		t.Fatal("bob deleted before the confirmation")
	}
	if resp, _ := f.post(t, "/_codehub/admin/user", root, form(csrf, "action", "delete", "user", "bob", "confirm", "yes")); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete bob: %d", resp.StatusCode)
	}
	if resp, _ := f.do(t, "GET", "/_codehub/", map[string]string{"Cookie": f.cookie("bob")}); resp.StatusCode != 401 {
		t.Errorf("bob's session after deletion: %d", resp.StatusCode)
	}
	if resp, _ := f.do(t, "GET", "/_codehub/api/v1/workspace", map[string]string{"Authorization": "Bearer " + bobTok}); resp.StatusCode != 401 || len(f.gw.cfg.Tokens.List("bob")) != 0 {
		t.Errorf("bob's token after deletion: %d, %d left", resp.StatusCode, len(f.gw.cfg.Tokens.List("bob")))
	}
	if f.be.stops["bob"] < 1 {
		t.Error("bob's workspace kept running")
	}
	if cb.deletes["bob"] != 0 {
		t.Error("bob's files were deleted without the box ticked")
	}
	if resp, _ := f.post(t, "/_codehub/admin/user", root, form(csrf, "action", "delete", "user", "alice", "confirm", "yes", "delete_workspace", "yes")); resp.StatusCode != http.StatusSeeOther || cb.deletes["alice"] != 1 {
		t.Errorf("delete alice with her workspace: %d, deletes %v", resp.StatusCode, cb.deletes)
	}
	for _, action := range []string{"delete", "revoke"} {
		if resp, _ := f.post(t, "/_codehub/admin/user", root, form(csrf, "action", action, "user", "root", "confirm", "yes")); resp.StatusCode != http.StatusForbidden {
			t.Errorf("root %s on himself: %d", action, resp.StatusCode)
		}
	}
	if admin, _, ok := f.store.Account("root"); !ok || !admin {
		t.Fatal("root lost his account or rights")
	}
	_, body = f.do(t, "GET", "/_codehub/admin", root)
	for _, want := range []string{"user.add", "user.password", "user.grant-admin", "user.delete", "refused"} {
		if !strings.Contains(body, want) {
			t.Errorf("recent events lack %s", want)
		}
	}
	if strings.Contains(body, npw[1]) || strings.Contains(body, pw[1]) {
		t.Error("a password is on the admin page after the response that showed it")
	}
}

// TestAdminEntersOnlyThroughWorkspaceOrigins: with per-workspace origins the admin page
// links to another user's workspace through /_codehub/open (a handoff to that workspace's
// own origin), and the entry is an audit event; on one host there is no such link and the
// admin's session still reaches only the admin's own workspace.
func TestAdminEntersOnlyThroughWorkspaceOrigins(t *testing.T) {
	var cb *capBackend
	f := newFixtureWith(t, 0, func(c *Config, _ string) {
		c.WorkspaceOrigins = mainHost
		cb = newCapBackend(c.Backend.(*mapBackend))
		c.Backend = cb
	})
	f.be.running["bob"] = true
	_, body := f.do(t, "GET", "/_codehub/admin", map[string]string{"Cookie": f.cookie("root"), "Host": mainHost})
	link := `href="/_codehub/open?workspace=` + identity.WorkspaceName("bob") + `"`
	if !strings.Contains(body, link) {
		t.Fatalf("the admin page has no handoff link to bob's workspace")
	}
	status, handoff := f.openURL(t, "root", "?workspace="+identity.WorkspaceName("bob"))
	if status != http.StatusSeeOther || !strings.HasPrefix(handoff, "http://"+wsHost("bob")+"/_codehub/handoff?") {
		t.Fatalf("admin open: %d %q", status, handoff)
	}
	ev := f.gw.cfg.Audit.Recent(1)
	if len(ev) != 1 || ev[0].Actor != "root" || ev[0].Action != "workspace.open-as-admin" || ev[0].User != "bob" {
		t.Fatalf("the entry is not audited: %+v", ev)
	}
	// alice (no admin) gets no link and no handoff.
	if status, _ := f.openURL(t, "alice", "?workspace="+identity.WorkspaceName("bob")); status != http.StatusForbidden {
		t.Fatalf("alice opens bob's workspace: %d", status)
	}

	one, _ := pagesFixture(t, true, twoProfiles)
	one.be.running["bob"], one.be.running["root"] = true, true
	if _, body := one.do(t, "GET", "/_codehub/admin", map[string]string{"Cookie": one.cookie("root")}); strings.Contains(body, "/_codehub/open?workspace=") {
		t.Fatal("a single-host admin page links into another user's workspace")
	}
	if _, body := one.do(t, "GET", "/", map[string]string{"Cookie": one.cookie("root")}); body != "workspace:root" {
		t.Fatalf("the admin's session reached %q", body)
	}
}
