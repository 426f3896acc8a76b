package gateway

import (
	"testing"

	"github.com/codehub-dev/codehub/internal/audit"
	"github.com/codehub-dev/codehub/internal/backend"
)

// TestEveryStopDropsTheRouteAndIsAudited: the API's stop, the home page's and the backend's
// own idle stop notice all go the one way (the route goes, so open tabs are told), and each
// is an audit event naming who asked.
func TestEveryStopDropsTheRouteAndIsAudited(t *testing.T) {
	f, _ := pagesFixture(t, true, twoProfiles)
	routed := func(user string) bool {
		f.be.running[user] = true
		if _, body := f.do(t, "GET", "/", map[string]string{"Cookie": f.cookie(user)}); body != "workspace:"+user {
			t.Fatalf("%s's workspace: %q", user, body)
		}
		_, ok := f.gw.routes.get(backend.Default(user))
		return ok
	}
	for _, c := range []struct {
		name, user, actor, detail string
		stop                      func()
	}{
		{"API", "alice", "alice", "API", func() {
			f.doBody(t, "POST", "/_codehub/api/v1/workspaces/alice/stop", jsonHdr(f.cookie("alice")), "{}")
		}},
		{"home page", "bob", "bob", "home page", func() {
			f.post(t, "/_codehub/workspace", map[string]string{"Cookie": f.cookie("bob")}, form(f.csrf(t, "bob"), "action", "stop"))
		}},
		{"idle notice", "root", actorSystem, "by the backend: " + backend.StopIdle, func() { f.gw.workspaceStopped(backend.Default("root"), backend.StopIdle) }},
	} {
		if !routed(c.user) {
			t.Fatalf("%s: no route to begin with", c.name)
		}
		c.stop()
		if _, ok := f.gw.routes.get(backend.Default(c.user)); ok {
			t.Errorf("%s: the route of %s stayed", c.name, c.user)
		}
		ev := f.gw.cfg.Audit.Recent(1)
		if len(ev) != 1 || ev[0].Action != "workspace.stop" || ev[0].Actor != c.actor || ev[0].User != c.user || ev[0].Detail != c.detail || ev[0].Outcome != audit.OK {
			t.Errorf("%s: audit %+v", c.name, ev)
		}
	}
}

// TestStopDecidedElsewhereOnlyDropsTheRoute: a stop the backend saw but did not make (on
// Kubernetes: the operator's, another replica's) drops the route, and is neither counted as
// this replica's idle stop nor audited again — every replica gets the notice.
func TestStopDecidedElsewhereOnlyDropsTheRoute(t *testing.T) {
	f, _ := pagesFixture(t, true, twoProfiles)
	f.be.running["alice"] = true
	if _, body := f.do(t, "GET", "/", map[string]string{"Cookie": f.cookie("alice")}); body != "workspace:alice" {
		t.Fatalf("alice's workspace: %q", body)
	}
	before := len(f.gw.cfg.Audit.Recent(200))
	f.gw.workspaceStopped(backend.Default("alice"), "")
	if _, ok := f.gw.routes.get(backend.Default("alice")); ok {
		t.Fatal("the route stayed")
	}
	if after := f.gw.cfg.Audit.Recent(200); len(after) != before {
		t.Fatalf("audited again: %+v", after[len(after)-1])
	}
}
