package gateway

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/codehub-dev/codehub/internal/backend"
)

// TestNamedWorkspaceAPIAuthorization is the authorization table of the named-workspace
// endpoints (issue #15 point 4) over the real local backend: anonymous, the owner's
// session, another user, an admin and the owner's token, on alice's workspace dev, each
// row from the same state (alice/dev exists, stopped, profile small).
func TestNamedWorkspaceAPIAuthorization(t *testing.T) {
	f, be := localAPIFixture(t)
	ctx := context.Background()
	dev := backend.Ref{User: "alice", Name: "dev"}
	callers := map[string]map[string]string{
		"anonymous":  nil,
		"owner":      jsonHdr(f.cookie("alice")),
		"other user": jsonHdr(f.cookie("bob")),
		"admin":      jsonHdr(f.cookie("root")),
		"token":      f.mint(t, "alice"),
	}
	const ws = "/_codehub/api/v1/workspaces/alice/dev"
	all := func(anon, owner, other, admin, token int) map[string]int {
		return map[string]int{"anonymous": anon, "owner": owner, "other user": other, "admin": admin, "token": token}
	}
	endpoints := []struct {
		method, path, body string
		want               map[string]int
	}{
		{"GET", ws, "", all(401, 200, 403, 200, 200)},
		{"POST", ws + "/start", "", all(401, 200, 403, 200, 200)},
		{"POST", ws + "/start", `{"profile":"small"}`, all(401, 200, 403, 200, 200)},
		{"POST", ws + "/start", `{"profile":"gpu"}`, all(401, 403, 403, 200, 403)},
		{"POST", ws + "/stop", "", all(401, 200, 403, 200, 200)},
		{"DELETE", ws, "", all(401, 200, 403, 200, 200)},
		// A bad name is refused before anything happens; another user's check comes first.
		{"GET", "/_codehub/api/v1/workspaces/alice/Dev", "", all(401, 400, 403, 400, 400)},
		{"POST", "/_codehub/api/v1/workspaces/alice/a--b/start", "", all(401, 400, 403, 400, 400)},
		// A workspace that does not exist: the owner's start creates it; nobody else's does.
		{"GET", "/_codehub/api/v1/workspaces/alice/other", "", all(401, 404, 403, 404, 404)},
	}
	for _, ep := range endpoints {
		for caller, hdr := range callers {
			t.Run(ep.method+" "+ep.path+" "+ep.body+" as "+caller, func(t *testing.T) {
				if err := be.Stop(ctx, dev); err != nil {
					t.Fatal(err)
				}
				if err := be.SetProfile(ctx, dev, "small"); err != nil {
					t.Fatal(err)
				}
				resp, body := f.doBody(t, ep.method, ep.path, hdr, ep.body)
				if want := ep.want[caller]; resp.StatusCode != want {
					t.Fatalf("status %d, want %d: %s", resp.StatusCode, want, body)
				}
				w, err := be.Get(ctx, dev)
				def, derr := be.Get(ctx, backend.Default("alice"))
				switch {
				case derr == nil && def.State != backend.StateStopped:
					t.Errorf("a call on alice/dev touched her default workspace: %s", def.State)
				case ep.method == "DELETE" && resp.StatusCode == 200:
					if !errors.Is(err, backend.ErrNotFound) || !strings.Contains(body, `"workspace":"dev"`) {
						t.Errorf("after a DELETE answered %s: Get = %+v, %v", body, w, err)
					}
				case strings.HasSuffix(ep.path, "dev/start") && resp.StatusCode == 200:
					if w.State != backend.StateStarting && w.State != backend.StateRunning || w.Named != "dev" {
						t.Errorf("after a start: %s %q", w.State, w.Named)
					}
				case resp.StatusCode != 200 && (err != nil || w.State != backend.StateStopped || w.Profile != "small"):
					t.Errorf("a refused call changed alice/dev: %+v %v", w, err)
				}
			})
		}
	}
}

// TestNamedWorkspaceLimit: the limit counts the default workspace, whether it exists or
// not, refuses with a message, and creates nothing; a deleted workspace frees its place.
func TestNamedWorkspaceLimit(t *testing.T) {
	f, be := localAPIFixture(t)
	f.gw.cfg.MaxWorkspaces = 2
	ctx := context.Background()
	owner := jsonHdr(f.cookie("alice"))
	if resp, body := f.doBody(t, "POST", "/_codehub/api/v1/workspaces/alice/one/start", owner, ""); resp.StatusCode != 200 {
		t.Fatalf("first named workspace: %d %s", resp.StatusCode, body)
	}
	for _, body := range []string{"", `{"profile":"small"}`} {
		resp, out := f.doBody(t, "POST", "/_codehub/api/v1/workspaces/alice/two/start", owner, body)
		if resp.StatusCode != 403 || !strings.Contains(out, "the most allowed here (2, your default workspace included)") {
			t.Errorf("second named workspace (%s): %d %s", body, resp.StatusCode, out)
		}
		if _, err := be.Get(ctx, backend.Ref{User: "alice", Name: "two"}); !errors.Is(err, backend.ErrNotFound) {
			t.Errorf("the refused workspace exists: %v", err)
		}
	}
	// bob's own limit is his: alice's workspaces do not count.
	if resp, body := f.doBody(t, "POST", "/_codehub/api/v1/workspaces/bob/two/start", jsonHdr(f.cookie("bob")), ""); resp.StatusCode != 200 {
		t.Fatalf("bob's named workspace: %d %s", resp.StatusCode, body)
	}
	if resp, body := f.doBody(t, "DELETE", "/_codehub/api/v1/workspaces/alice/one", owner, ""); resp.StatusCode != 200 {
		t.Fatalf("delete: %d %s", resp.StatusCode, body)
	}
	if resp, body := f.doBody(t, "POST", "/_codehub/api/v1/workspaces/alice/two/start", owner, ""); resp.StatusCode != 200 {
		t.Fatalf("after a delete: %d %s", resp.StatusCode, body)
	}
	// Concurrent creations cannot pass the limit together: one slot, one creation.
	if resp, body := f.doBody(t, "DELETE", "/_codehub/api/v1/workspaces/alice/two", owner, ""); resp.StatusCode != 200 {
		t.Fatalf("delete two: %d %s", resp.StatusCode, body)
	}
	codes := make(chan int, 4)
	var wg sync.WaitGroup
	for _, name := range []string{"c1", "c2", "c3", "c4"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Not doBody: t.Fatal belongs to the test's own goroutine.
			req, _ := http.NewRequest("POST", f.srv.URL+"/_codehub/api/v1/workspaces/alice/"+name+"/start", nil)
			for k, v := range owner {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	created := 0
	for c := range codes {
		if c == 200 {
			created++
		} else if c != 403 {
			t.Errorf("a concurrent creation answered %d", c)
		}
	}
	if created != 1 {
		t.Fatalf("%d of 4 concurrent creations passed a limit with one free slot", created)
	}
	if resp, body := f.doBody(t, "POST", "/_codehub/api/v1/workspaces/alice/two/start", owner, ""); resp.StatusCode != 403 {
		t.Fatalf("after the concurrent creations: %d %s", resp.StatusCode, body)
	}
	for _, name := range []string{"c1", "c2", "c3", "c4"} {
		f.doBody(t, "DELETE", "/_codehub/api/v1/workspaces/alice/"+name, owner, "")
	}
	if resp, body := f.doBody(t, "POST", "/_codehub/api/v1/workspaces/alice/two/start", owner, ""); resp.StatusCode != 200 {
		t.Fatalf("two again: %d %s", resp.StatusCode, body)
	}
	// The list names them.
	resp, body := f.doBody(t, "GET", "/_codehub/api/v1/workspaces", owner, "")
	if resp.StatusCode != 200 || !strings.Contains(body, `"workspace":"two"`) || strings.Contains(body, `"workspace":"one"`) {
		t.Errorf("list: %d %s", resp.StatusCode, body)
	}
}
