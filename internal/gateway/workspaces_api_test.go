package gateway

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/backend/local"
	"github.com/codehub-dev/codehub/internal/profile"
	"github.com/codehub-dev/codehub/internal/testkit"
)

// localAPIFixture is the gateway over the real local backend (a launcher that only sleeps:
// the API, not code-server, is under test), with a catalog of a default profile and one
// open to ml-team only. Local users have no groups, so only an admin may choose gpu.
func localAPIFixture(t *testing.T) (*fixture, *local.Backend) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the local backend's uid mode needs root (CI runs as root)")
	}
	dir := testkit.TraversableTempDir(t)
	launcher := filepath.Join(dir, "cs", "launcher")
	if err := os.MkdirAll(filepath.Dir(launcher), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(launcher, []byte("#!/bin/sh\nexec sleep 600\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cat, err := profile.New([]profile.Profile{
		{Name: "small", Default: true, CPU: profile.Amount{Limit: "2"}},
		{Name: "gpu", GPUs: 1, Groups: []string{"ml-team"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	uids := map[string]int64{"alice": 5101, "bob": 5102, "root": 5103}
	be, err := local.New(local.Config{
		CodeServer: launcher, Dir: filepath.Join(dir, "state", "workspaces"), StopGrace: time.Second,
		StartTimeout: time.Minute, Logger: slog.New(slog.DiscardHandler), Profiles: cat,
		UIDs: func(u string) (int64, bool, error) { uid, ok := uids[u]; return uid, ok, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Shutdown(context.Background()) })
	f := newFixtureWith(t, 0, func(c *Config, _ string) { c.Backend, c.Profiles = be, cat })
	return f, be
}

// TestWorkspaceAPIAuthorization is the authorization table of every workspace endpoint
// (issue #15): anonymous, the owner's session, another user, an admin and the owner's
// token, on alice's workspace, each row from the same state (alice's workspace exists,
// stopped, profile small).
func TestWorkspaceAPIAuthorization(t *testing.T) {
	f, be := localAPIFixture(t)
	ctx := context.Background()
	aliceTok := f.mint(t, "alice")
	callers := map[string]map[string]string{
		"anonymous":  nil,
		"owner":      jsonHdr(f.cookie("alice")),
		"other user": jsonHdr(f.cookie("bob")),
		"admin":      jsonHdr(f.cookie("root")),
		"token":      aliceTok,
	}
	const ws = "/_codehub/api/v1/workspaces/alice"
	endpoints := []struct {
		method, path, body string
		want               map[string]int // by caller
	}{
		{"GET", ws, "", map[string]int{"anonymous": 401, "owner": 200, "other user": 403, "admin": 200, "token": 200}},
		{"POST", ws + "/start", "", map[string]int{"anonymous": 401, "owner": 200, "other user": 403, "admin": 200, "token": 200}},
		{"POST", ws + "/start", `{"profile":"small"}`, map[string]int{"anonymous": 401, "owner": 200, "other user": 403, "admin": 200, "token": 200}},
		// gpu is ml-team's: alice (no groups) may not choose it; an admin may, for her.
		{"POST", ws + "/start", `{"profile":"gpu"}`, map[string]int{"anonymous": 401, "owner": 403, "other user": 403, "admin": 200, "token": 403}},
		{"POST", ws + "/start", `{"profile":"nosuch"}`, map[string]int{"anonymous": 401, "owner": 404, "other user": 403, "admin": 404, "token": 404}},
		{"POST", ws + "/start", `{"profile":`, map[string]int{"anonymous": 401, "owner": 400, "other user": 403, "admin": 400, "token": 400}},
		{"POST", ws + "/stop", "", map[string]int{"anonymous": 401, "owner": 200, "other user": 403, "admin": 200, "token": 200}},
		{"DELETE", ws, "", map[string]int{"anonymous": 401, "owner": 200, "other user": 403, "admin": 200, "token": 200}},
		{"GET", "/_codehub/api/v1/profiles", "", map[string]int{"anonymous": 401, "owner": 200, "other user": 200, "admin": 200, "token": 200}},
	}
	for _, ep := range endpoints {
		for caller, hdr := range callers {
			t.Run(ep.method+" "+ep.path+" "+ep.body+" as "+caller, func(t *testing.T) {
				if err := be.Stop(ctx, backend.Default("alice")); err != nil {
					t.Fatal(err)
				}
				if err := be.SetProfile(ctx, backend.Default("alice"), "small"); err != nil {
					t.Fatal(err)
				}
				resp, body := f.doBody(t, ep.method, ep.path, hdr, ep.body)
				if want := ep.want[caller]; resp.StatusCode != want {
					t.Fatalf("status %d, want %d: %s", resp.StatusCode, want, body)
				}
				w, err := be.Get(ctx, backend.Default("alice"))
				switch {
				case ep.method == "DELETE" && resp.StatusCode == 200:
					if err != backend.ErrNotFound || !strings.Contains(body, "is removed with everything in it") {
						t.Errorf("after a DELETE answered %s: Get = %+v, %v", body, w, err)
					}
				case strings.HasSuffix(ep.path, "/start") && resp.StatusCode == 200:
					if w.State != backend.StateStarting && w.State != backend.StateRunning {
						t.Errorf("after a start: %s", w.State)
					}
					if strings.Contains(ep.body, "gpu") && w.Profile != "gpu" {
						t.Errorf("an admin's start with gpu: profile %q", w.Profile)
					}
				case resp.StatusCode != 200 && err == nil && (w.State != backend.StateStopped || w.Profile != "small"):
					t.Errorf("a refused call changed the workspace: %s, profile %q", w.State, w.Profile)
				}
			})
		}
	}
}

// TestWorkspaceAPIErrors: unknown users and workspaces are 404s that name the user, a
// session call without JSON is refused, and the profiles list says what the local backend
// ignores and shows each caller only the profiles they may use.
func TestWorkspaceAPIErrors(t *testing.T) {
	f, be := localAPIFixture(t)
	admin := jsonHdr(f.cookie("root"))
	for _, c := range []struct{ method, path string }{
		{"GET", "/_codehub/api/v1/workspaces/nosuchuser"},
		{"POST", "/_codehub/api/v1/workspaces/nosuchuser/start"},
		{"POST", "/_codehub/api/v1/workspaces/nosuchuser/stop"},
		{"DELETE", "/_codehub/api/v1/workspaces/nosuchuser"},
	} {
		resp, body := f.doBody(t, c.method, c.path, admin, "")
		if resp.StatusCode != 404 || !strings.Contains(body, `\"nosuchuser\" has no workspace`) {
			t.Errorf("%s %s as admin: %d %s, want 404 naming the user", c.method, c.path, resp.StatusCode, body)
		}
	}
	if _, err := be.List(context.Background()); err != nil {
		t.Fatal(err)
	}
	if resp, body := f.doBody(t, "DELETE", "/_codehub/api/v1/workspaces/alice", map[string]string{"Cookie": f.cookie("alice")}, ""); resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("session DELETE without JSON: %d %s", resp.StatusCode, body)
	}
	profiles := func(hdr map[string]string) []profileJSON {
		resp, body := f.doBody(t, "GET", "/_codehub/api/v1/profiles", hdr, "")
		var out struct{ Profiles []profileJSON }
		if err := json.Unmarshal([]byte(body), &out); err != nil || resp.StatusCode != 200 {
			t.Fatalf("profiles: %d %s", resp.StatusCode, body)
		}
		return out.Profiles
	}
	if ps := profiles(jsonHdr(f.cookie("alice"))); len(ps) != 1 || ps[0].Name != "small" || strings.Join(ps[0].Ignored, ",") != "cpu" {
		t.Errorf("alice's profiles: %+v, want small alone, ignoring cpu", ps)
	}
	if ps := profiles(admin); len(ps) != 2 || ps[1].Name != "gpu" || strings.Join(ps[1].Ignored, ",") != "gpus" {
		t.Errorf("the admin's profiles: %+v, want small and gpu (ignoring gpus)", ps)
	}
	// The owner's start reports the profile and the creation time.
	resp, body := f.doBody(t, "POST", "/_codehub/api/v1/workspaces/alice/start", jsonHdr(f.cookie("alice")), "")
	var w workspaceJSON
	if err := json.Unmarshal([]byte(body), &w); err != nil || resp.StatusCode != 200 || w.Profile != "small" || w.Created == nil {
		t.Errorf("start: %d %s", resp.StatusCode, body)
	}
	// Another profile for a workspace that runs: stop it first (a start would change nothing).
	resp, body = f.doBody(t, "POST", "/_codehub/api/v1/workspaces/alice/start", admin, `{"profile":"gpu"}`)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, `runs with profile \"small\"; stop it first`) {
		t.Errorf("admin's gpu start of the running workspace: %d %s", resp.StatusCode, body)
	}
}
