package gateway

import (
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/identity"
)

func TestPortLabelsAndPaths(t *testing.T) {
	for _, c := range []struct {
		label string
		ws    string
		port  int
		ok    bool
	}{
		{"p8000--alice-1a2b3c4d5e", "alice-1a2b3c4d5e", 8000, true},
		{"p1--u-0011223344", "u-0011223344", 1, true},
		{"p65536--alice-1a2b3c4d5e", "", 0, false},
		{"p0--alice", "", 0, false},
		{"p08000--alice", "", 0, false}, // one spelling per port: no aliases of a host
		{"p8000-alice-1a2b3c4d5e", "", 0, false},
		{"alice-1a2b3c4d5e", "", 0, false},
		{"p--alice", "", 0, false},
		{"pabc--alice", "", 0, false},
		{"p8000--", "", 0, false},
	} {
		ws, port, ok := parsePortLabel(c.label)
		if ws != c.ws || port != c.port || ok != c.ok {
			t.Errorf("parsePortLabel(%q) = %q %d %v", c.label, ws, port, ok)
		}
	}
	for _, c := range []struct {
		path string
		port int
		rest string
		ok   bool
	}{
		{"/proxy/8000/", 8000, "/", true},
		{"/proxy/8000", 8000, "/", true},
		{"/proxy/8000/a/b", 8000, "/a/b", true},
		{"/absproxy/8000/a", 8000, "/absproxy/8000/a", true},
		{"/proxy/x/", 0, "", true}, // still a proxy route: refused, never passed to code-server
		{"/proxy/99999/", 0, "", true},
		{"/proxy", 0, "", false},
		{"/proxyx/8000/", 0, "", false},
		{"/static/proxy/8000/", 0, "", false},
	} {
		port, rest, ok := portPath(c.path)
		if port != c.port || rest != c.rest || ok != c.ok {
			t.Errorf("portPath(%q) = %d %q %v", c.path, port, rest, ok)
		}
	}
}

// TestWorkspaceNeverSetsGatewayCookies: whatever a workspace answers, the browser never
// receives a Set-Cookie for the gateway's session (any prefix or case) or code-server's.
func TestWorkspaceNeverSetsGatewayCookies(t *testing.T) {
	f := newFixture(t, 0)
	f.be.running["alice"] = true
	f.alice.setCookies = []string{"codehub_session=fixation; Path=/", "__Host-codehub_session=x; Path=/; Secure",
		"__Secure-codehub_session=x", "CODEHUB_SESSION=x", "codehub_ws=x; Domain=localhost", "code-server-session=x",
		"editor=dark; Path=/"}
	resp, body := f.do(t, "GET", "/", map[string]string{"Cookie": f.cookie("alice")})
	if body != "workspace:alice" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	if got := resp.Header.Values("Set-Cookie"); len(got) != 1 || got[0] != "editor=dark; Path=/" {
		t.Fatalf("Set-Cookie reaching the browser: %q", got)
	}
}

// TestCredentialRidesUpstreamOnly: the gateway presents the workspace's credential on the
// upstream request, replaces a client-sent code-server cookie, and never sends it back.
func TestCredentialRidesUpstreamOnly(t *testing.T) {
	f := newFixture(t, 0)
	f.be.running["alice"] = true
	resp, body := f.do(t, "GET", "/", map[string]string{"Cookie": f.cookie("alice") + "; code-server-session=forged; theme=1"})
	if body != "workspace:alice" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	got := strings.Join((*f.alice.last.Load())["Cookie"], "; ")
	if !strings.Contains(got, "code-server-session=cred-of-alice") || strings.Contains(got, "forged") ||
		strings.Contains(got, "codehub_session") || !strings.Contains(got, "theme=1") {
		t.Fatalf("upstream Cookie: %q", got)
	}
	for k, v := range resp.Header {
		if strings.Contains(strings.Join(v, " "), "cred-of-alice") {
			t.Fatalf("credential in response header %s", k)
		}
	}
}

// TestPortPreviewThroughTheWorkspace: without a PortDialer (the Kubernetes backend) a
// port origin reaches the app through code-server's /proxy/<port>/ in the workspace,
// with the credential, for the owner only; the main origin never proxies ports itself.
func TestPortPreviewThroughTheWorkspace(t *testing.T) {
	f := newFixture(t, 0)
	f.be.running["alice"] = true
	ws := identity.WorkspaceName("alice")
	gwHost := strings.TrimPrefix(f.srv.URL, "http://")
	_, port, _ := strings.Cut(gwHost, ":")
	portHost := "p8000--" + ws + ".localhost:" + port

	resp, _ := f.do(t, "GET", "/proxy/8000/app?x=1", map[string]string{"Cookie": f.cookie("alice"), "Accept": "text/html", "Sec-Fetch-Mode": "navigate"})
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "http://"+portHost+"/app?x=1" {
		t.Fatalf("main-origin /proxy/: %d %q", resp.StatusCode, loc)
	}
	if resp, body := f.do(t, "GET", "/proxy/8000/app", map[string]string{"Cookie": f.cookie("alice")}); resp.StatusCode != http.StatusNotFound || strings.Contains(body, "workspace:") {
		t.Fatalf("main-origin /proxy/ XHR: %d %q", resp.StatusCode, body)
	}
	// The port host sends a visitor without its cookie to the main host's handoff.
	resp, _ = f.do(t, "GET", "/app", map[string]string{"Host": portHost, "Accept": "text/html", "Sec-Fetch-Mode": "navigate"})
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc.Path != "/_codehub/open" || loc.Query().Get("port") != "8000" {
		t.Fatalf("port host without a cookie: %d %s", resp.StatusCode, loc)
	}
	resp, _ = f.do(t, "GET", loc.RequestURI(), map[string]string{"Cookie": f.cookie("alice")})
	handoff, _ := url.Parse(resp.Header.Get("Location"))
	if handoff.Host != portHost {
		t.Fatalf("handoff goes to %s, want %s", handoff, portHost)
	}
	resp, _ = f.do(t, "GET", handoff.RequestURI(), map[string]string{"Host": portHost})
	var hostCookie string
	for _, c := range resp.Cookies() {
		if c.Name == "codehub_ws" {
			hostCookie = c.Name + "=" + c.Value
		}
	}
	if hostCookie == "" {
		t.Fatalf("handoff set no cookie: %d", resp.StatusCode)
	}
	resp, body := f.do(t, "GET", "/app?x=1", map[string]string{"Host": portHost, "Cookie": hostCookie + "; " + f.cookie("alice")})
	if body != "workspace:alice" || *f.alice.lastPath.Load() != "/proxy/8000/app?x=1" {
		t.Fatalf("through the port host: %d %q upstream path %q", resp.StatusCode, body, *f.alice.lastPath.Load())
	}
	if c := strings.Join((*f.alice.last.Load())["Cookie"], ";"); !strings.Contains(c, "code-server-session=cred-of-alice") || strings.Contains(c, "codehub_") {
		t.Fatalf("upstream cookies through the port host: %q", c)
	}
	// Bob's own handoff never opens alice's port host: his token is sealed for his label.
	resp, _ = f.do(t, "GET", "/_codehub/open?port=8000&workspace="+ws, map[string]string{"Cookie": f.cookie("bob")})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("bob opens alice's port: %d", resp.StatusCode)
	}
	f.alice.hits.Store(0)
	if resp, _ := f.do(t, "GET", "/app", map[string]string{"Host": portHost, "Cookie": hostCookie + "x"}); resp.StatusCode != http.StatusUnauthorized || f.alice.hits.Load() != 0 {
		t.Fatalf("tampered port-host cookie: %d, %d upstream hits", resp.StatusCode, f.alice.hits.Load())
	}
}

// TestStaleCredentialDropsRoute: when code-server refuses the route's credential (its
// workspace restarted with a new one), the user never sees code-server's login page: the
// route is dropped and the next request uses the backend's current credential.
func TestStaleCredentialDropsRoute(t *testing.T) {
	f := newFixture(t, 0)
	f.be.running["alice"] = true
	var refuse atomic.Bool
	refuse.Store(true)
	f.alice.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refuse.Load() {
			http.Redirect(w, r, "./login?to=%2F", http.StatusFound)
			return
		}
		w.Write([]byte("workspace:alice"))
	})
	nav := map[string]string{"Cookie": f.cookie("alice"), "Accept": "text/html", "Sec-Fetch-Mode": "navigate"}
	resp, body := f.do(t, "GET", "/", nav)
	if resp.StatusCode != http.StatusServiceUnavailable || strings.Contains(resp.Header.Get("Location"), "login") || !strings.Contains(body, "Reconnecting") {
		t.Fatalf("stale credential: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, ok := f.gw.routes.get(backend.Default("alice")); ok {
		t.Fatal("the stale route is still there")
	}
	refuse.Store(false)
	if _, body := f.do(t, "GET", "/", nav); body != "workspace:alice" {
		t.Fatalf("after re-reading the backend: %q", body)
	}
}

// TestProviderHeadersStripped: the identity headers a configured provider reads (header
// auth's own names) never reach a workspace, besides the built-in list.
func TestProviderHeadersStripped(t *testing.T) {
	f := newFixtureWith(t, 0, func(c *Config, _ string) { c.StripHeaders = []string{"x-email", "X-Groups-Of-User"} })
	f.be.running["alice"] = true
	f.do(t, "GET", "/", map[string]string{"Cookie": f.cookie("alice"), "X-Email": "bob@example.com", "X-Groups-Of-User": "admins", "X-Remote-User": "bob", "X-Other": "kept"})
	h := *f.alice.last.Load()
	for _, k := range []string{"X-Email", "X-Groups-Of-User", "X-Remote-User"} {
		if v := h.Get(k); v != "" {
			t.Errorf("%s reached the workspace: %q", k, v)
		}
	}
	if h.Get("X-Other") != "kept" {
		t.Error("an ordinary header was stripped too")
	}
}
