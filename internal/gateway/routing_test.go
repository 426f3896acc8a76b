package gateway

import (
	"net/http"
	"strings"
	"testing"

	"github.com/codehub-dev/codehub/internal/identity"
)

// Routing: a request reaches its signed-in user's workspace, and only that; only a
// navigation wakes a stopped workspace.

func TestUnauthenticatedNeverReachesWorkspace(t *testing.T) {
	f := newFixture(t, 0)
	f.be.running["alice"], f.be.running["bob"] = true, true
	tampered := []byte(f.cookies["alice"])
	tampered[10] ^= 1
	tests := []struct {
		name       string
		hdr        map[string]string
		wantStatus int
	}{
		{"no cookie XHR", map[string]string{}, 401},
		{"no cookie navigation", map[string]string{"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}, 303},
		{"no cookie upgrade", map[string]string{"Connection": "Upgrade", "Upgrade": "websocket"}, 401},
		{"tampered cookie", map[string]string{"Cookie": CookieName(false) + "=" + string(tampered)}, 401},
		{"tampered cookie upgrade", map[string]string{"Cookie": CookieName(false) + "=" + string(tampered), "Connection": "Upgrade", "Upgrade": "websocket"}, 401},
		{"cookie of other name", map[string]string{"Cookie": "__Host-codehub_session=" + f.cookies["alice"]}, 401},
		{"identity header only", map[string]string{"X-Remote-User": "alice", "X-Forwarded-User": "alice"}, 401},
		{"basic auth", map[string]string{"Authorization": "Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQ="}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := f.do(t, "GET", "/", tt.hdr)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
		})
	}
	if n := f.alice.hits.Load() + f.bob.hits.Load(); n != 0 {
		t.Fatalf("unauthenticated requests reached workspaces %d times", n)
	}
}

func TestRoutingByIdentityOnly(t *testing.T) {
	f := newFixture(t, 0)
	f.be.running["alice"], f.be.running["bob"] = true, true
	hostile := []map[string]string{
		{},
		{"X-Remote-User": "bob"},
		{"X-Codehub-User": "bob", "X-Forwarded-User": "bob"},
		{"X-Forwarded-Host": "bob.example", "X-Forwarded-For": "10.0.0.1"},
		{"Host": "bob.localhost"},
	}
	paths := []string{"/", "/bob", "/?user=bob", "/_codehub/../bob", "/" + identity.WorkspaceName("bob") + "/"}
	for _, hdr := range hostile {
		for _, p := range paths {
			h := map[string]string{"Cookie": f.cookie("alice")}
			for k, v := range hdr {
				h[k] = v
			}
			resp, body := f.do(t, "GET", p, h)
			if resp.StatusCode == http.StatusOK && body != "workspace:alice" {
				t.Fatalf("alice's request %s %v answered by %q", p, hdr, body)
			}
		}
	}
	if f.bob.hits.Load() != 0 {
		t.Fatalf("alice's requests reached bob's workspace %d times", f.bob.hits.Load())
	}
	resp, body := f.do(t, "GET", "/", map[string]string{"Cookie": f.cookie("bob")})
	if resp.StatusCode != 200 || body != "workspace:bob" {
		t.Fatalf("bob got %d %q", resp.StatusCode, body)
	}
}

func TestWakeOnlyOnNavigation(t *testing.T) {
	f := newFixture(t, 0)
	for _, hdr := range []map[string]string{
		{"Accept": "*/*"},
		{"Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty", "Accept": "text/html"},
		{"Connection": "Upgrade", "Upgrade": "websocket"},
		{"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"},
	} {
		hdr["Cookie"] = f.cookie("alice")
		resp, _ := f.do(t, "GET", "/", hdr)
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%v: status %d, want 503", hdr, resp.StatusCode)
		}
	}
	if n := f.be.starts["alice"]; n != 0 {
		t.Fatalf("non-navigation requests started the workspace %d times", n)
	}
	resp, body := f.do(t, "GET", "/", map[string]string{"Cookie": f.cookie("alice"), "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"})
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "Starting your workspace") || !strings.Contains(body, `http-equiv="refresh"`) {
		t.Fatalf("navigation: status %d body %q", resp.StatusCode, body)
	}
	if f.be.starts["alice"] != 1 {
		t.Fatalf("starts = %d", f.be.starts["alice"])
	}
	// Once running, the same URL is proxied.
	resp, body = f.do(t, "GET", "/", map[string]string{"Cookie": f.cookie("alice"), "Accept": "text/html"})
	if resp.StatusCode != 200 || body != "workspace:alice" {
		t.Fatalf("after start: %d %q", resp.StatusCode, body)
	}
}
