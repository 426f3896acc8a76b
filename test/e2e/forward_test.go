package e2e

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codehub-dev/codehub/internal/testkit"
)

// TestBehindPlatformSessionVerification runs the gateway with --auth forward against a
// real verification endpoint (the platform's auth-url, written here) and a real
// code-server: platform session → own workspace; no session → platform login; verifier
// down → 503, never a login loop and never a sign-in.
func TestBehindPlatformSessionVerification(t *testing.T) {
	var calls atomic.Int64
	var down atomic.Bool
	verifier := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if down.Load() {
			hj, _ := w.(http.Hijacker)
			c, _, _ := hj.Hijack()
			c.Close() // a broken platform: connection dropped
			return
		}
		if r.Method != http.MethodPost {
			http.Error(w, "method", http.StatusMethodNotAllowed)
			return
		}
		c, err := r.Cookie("session")
		if err == nil && c.Value == "carol-platform-session" && r.Header.Get("X-Remote-User") == "" {
			w.Header().Set("X-Remote-User", "carol") // a platform user without unix ids
			w.WriteHeader(http.StatusOK)
			return
		}
		if err != nil || c.Value != "alice-platform-session" || r.Header.Get("X-Remote-User") != "" {
			http.Error(w, "no session", http.StatusUnauthorized)
			return
		}
		w.Header().Set("X-Remote-User", "alice")
		w.Header().Set("X-User-Group-Ids", "data-science,users")
		w.Header().Set("X-Unix-Uid", "2001")
		w.Header().Set("X-Unix-Gid", "2001")
		w.WriteHeader(http.StatusOK)
	}))
	verifier.Start()
	t.Cleanup(verifier.Close)

	state := testkit.TraversableTempDir(t)
	addUser(t, state, "admin", "admin-password", true) // local users stay available
	g := startGateway(t, state, "--idle-timeout", "0", "--auth", "forward",
		"--forward-url", verifier.URL+"/api/data_sessions/verifications/app_service",
		"--forward-cookies", "session", "--auth-cache-ttl", "2s",
		"--forward-login-url", "https://dashboard.platform.example/login?rd={url}")

	noRedirects := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 30 * time.Second}
	visit := func(cookie string, hdr map[string]string) *http.Response {
		req, _ := http.NewRequest("GET", g.URL+"/", nil)
		req.Header.Set("Accept", "text/html")
		req.Header.Set("Sec-Fetch-Mode", "navigate")
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := noRedirects.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}

	for _, tt := range []struct {
		name   string
		cookie string
		hdr    map[string]string
	}{
		{"no session", "", nil},
		{"wrong session", "session=bob-forged", nil},
		{"identity header injected", "", map[string]string{"X-Remote-User": "alice"}},
		{"identity header with wrong session", "session=nope", map[string]string{"X-Remote-User": "alice", "X-Forwarded-User": "alice"}},
	} {
		resp := visit(tt.cookie, tt.hdr)
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "https://dashboard.platform.example/login?rd=") {
			t.Errorf("%s: %d Location %q, want the platform's login", tt.name, resp.StatusCode, loc)
		}
	}

	alice := newBrowser(t, g.URL)
	alice.Jar.SetCookies(mustParse(g.URL), []*http.Cookie{{Name: "session", Value: "alice-platform-session"}})
	alice.openWorkbench(t)
	if st := alice.workspaceState(t); st != "Running" {
		t.Fatalf("alice's workspace: %s", st)
	}
	// The gateway runs as root: alice's workspace runs as the platform's uid for her.
	if ids := processIDs(t, workspacePID(t, state, "alice")); ids != "2001:2001" {
		t.Fatalf("alice's code-server runs as %s, want the platform's 2001:2001", ids)
	}
	// A platform user without unix ids is refused, with the reason, never run as root.
	carol := newBrowser(t, g.URL)
	carol.Jar.SetCookies(mustParse(g.URL), []*http.Cookie{{Name: "session", Value: "carol-platform-session"}})
	if resp, body := carol.navigate(t, "/"); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "no unix uid is known") {
		t.Fatalf("carol without a uid: %d %s", resp.StatusCode, body)
	}
	if pid := workspacePID(t, state, "carol"); pid != 0 {
		t.Fatalf("a workspace process was started for carol (pid %d)", pid)
	}

	// The gateway answers as an ingress auth-url target too.
	req, _ := http.NewRequest("POST", g.URL+"/_codehub/auth/verify", nil)
	req.Header.Set("Cookie", "session=alice-platform-session")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Remote-User") != "alice" || resp.Header.Get("X-Remote-Groups") != "data-science,users" {
		t.Fatalf("verify: %d %v", resp.StatusCode, resp.Header)
	}

	// Cache: repeated requests within the TTL cost no round trips.
	before, began := calls.Load(), time.Now()
	for i := 0; i < 20; i++ {
		visit("session=alice-platform-session", nil)
	}
	// At most one verification per cache lifetime (2 s) that the loop spanned.
	allowed := int64(time.Since(began)/(2*time.Second)) + 2
	if n := calls.Load() - before; n > allowed {
		t.Errorf("20 requests cost %d verifications (allowed %d); the cache should absorb them", n, allowed)
	}

	// Platform down: after the cache expires, a clear 503 and no sign-in, no redirect.
	down.Store(true)
	eventually(t, 30*time.Second, "the cached verification to expire", func() bool {
		return visit("session=alice-platform-session", nil).StatusCode == http.StatusServiceUnavailable
	})
	resp = visit("session=alice-platform-session", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Location") != "" {
		t.Fatalf("verifier down: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}
