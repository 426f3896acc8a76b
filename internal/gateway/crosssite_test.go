package gateway

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Cross-site requests: state-changing POSTs and WebSocket upgrades from another origin are
// refused, whatever cookie the browser attaches.

func TestCrossSitePostRefused(t *testing.T) {
	f := newFixture(t, 0)
	for _, path := range []string{"/_codehub/logout", "/_codehub/login", "/_codehub/start"} {
		resp, _ := f.do(t, "POST", path, map[string]string{"Cookie": f.cookie("alice"), "Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site POST %s: status %d, want 403", path, resp.StatusCode)
		}
	}
	resp, _ := f.do(t, "GET", "/", map[string]string{"Cookie": f.cookie("alice")})
	if resp.StatusCode == http.StatusUnauthorized {
		t.Fatal("cross-site logout signed alice out")
	}
}

func TestWebSocketOrigin(t *testing.T) {
	f := newFixture(t, 0)
	f.be.running["alice"] = true
	host := mustURL(f.srv.URL).Host
	for _, tt := range []struct {
		origin string
		want   int
	}{
		{"http://evil.example", 403},
		{"null", 403},
		{"http://" + host + ".evil.example", 403},
		{"http://evil" + host, 403},
		{"ws://" + host, 403},
		{"http://" + host, 200}, // the stand-in upstream answers plain 200
	} {
		resp, _ := f.do(t, "GET", "/", map[string]string{"Cookie": f.cookie("alice"), "Connection": "Upgrade", "Upgrade": "websocket", "Origin": tt.origin})
		if resp.StatusCode != tt.want {
			t.Errorf("Origin %q: status %d, want %d", tt.origin, resp.StatusCode, tt.want)
		}
	}
}

func TestSameOrigin(t *testing.T) {
	for _, tt := range []struct {
		host, origin string
		secure       bool
		want         bool
	}{
		{"vscode.example.com", "https://vscode.example.com", true, true},
		{"vscode.example.com", "http://vscode.example.com", true, false}, // downgrade
		{"vscode.example.com", "https://vscode.example.com.evil.io", true, false},
		{"vscode.example.com", "https://evilvscode.example.com", true, false},
		{"vscode.example.com", "https://a.vscode.example.com", true, false}, // another workspace host
		{"vscode.example.com", "null", true, false},
		{"vscode.example.com", "", true, true}, // non-browser client: no Origin
		{"vscode.example.com", "wss://vscode.example.com", true, false},
		{"vscode.example.com", "https://VSCODE.example.com", true, true},
		{"127.0.0.1:8080", "http://127.0.0.1:8080", false, true},
		{"127.0.0.1:8080", "https://127.0.0.1:8080", false, true}, // TLS ends in front
		{"127.0.0.1:8080", "http://127.0.0.1:8081", false, false},
		{"127.0.0.1:8080", "http://localhost:8080", false, false},
		{"127.0.0.1:8080", "file://", false, false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = tt.host
		if tt.origin != "" {
			r.Header.Set("Origin", tt.origin)
		}
		if got := sameOrigin(r, tt.secure); got != tt.want {
			t.Errorf("sameOrigin(host %q, origin %q, secure %v) = %v, want %v", tt.host, tt.origin, tt.secure, got, tt.want)
		}
	}
}
