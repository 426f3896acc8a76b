package gateway

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codehub-dev/codehub/internal/auth"
	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/session"
	"github.com/codehub-dev/codehub/internal/tokens"
	"github.com/codehub-dev/codehub/internal/users"
)

// fakeClock is an injected clock that only moves when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// upstream is a stand-in workspace for routing unit tests: an HTTP server that
// reports which workspace answered and what headers it received. (The integration
// tests in test/e2e use real code-server.)
type upstream struct {
	srv      *httptest.Server
	hits     atomic.Int64
	last     atomic.Pointer[http.Header]
	lastPath atomic.Pointer[string]
	// setCookies are sent on every response (a workspace trying to set cookies).
	setCookies []string
}

func newUpstream(t *testing.T, name string) *upstream {
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		h := r.Header.Clone()
		h.Set("X-Seen-Host", r.Host)
		u.last.Store(&h)
		p := r.URL.RequestURI()
		u.lastPath.Store(&p)
		for _, c := range u.setCookies {
			w.Header().Add("Set-Cookie", c)
		}
		io.WriteString(w, "workspace:"+name)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// mapBackend runs nothing: each user's workspace is a given upstream.
type mapBackend struct {
	mu      sync.Mutex
	byUser  map[string]*upstream
	running map[string]bool
	starts  map[string]int
	stops   map[string]int
}

func (b *mapBackend) Get(_ context.Context, user string) (backend.Workspace, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	up, ok := b.byUser[user]
	if !ok {
		return backend.Workspace{}, backend.ErrNotFound
	}
	w := backend.Workspace{Name: identity.WorkspaceName(user), User: user, State: backend.StateStopped}
	if b.running[user] {
		w.State, w.Endpoint, w.Credential = backend.StateRunning, mustURL(up.srv.URL), "cred-of-"+user
	}
	return w, nil
}

func (b *mapBackend) Start(ctx context.Context, id identity.Identity) (backend.Workspace, error) {
	b.mu.Lock()
	b.starts[id.User]++
	b.running[id.User] = true
	b.mu.Unlock()
	w, _ := b.Get(ctx, id.User)
	w.State, w.Endpoint = backend.StateStarting, nil
	return w, nil
}

func (b *mapBackend) Stop(_ context.Context, user string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stops[user]++
	b.running[user] = false
	return nil
}

func (b *mapBackend) List(ctx context.Context) ([]backend.Workspace, error) { return nil, nil }
func (b *mapBackend) Shutdown(context.Context) error                        { return nil }

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

type fixture struct {
	store   *users.Store
	gw      *Gateway
	srv     *httptest.Server
	be      *mapBackend
	clock   *fakeClock
	alice   *upstream
	bob     *upstream
	cookies map[string]string
	host    string // Host header for requests that do not set one ("" = the server's)
}

// newFixture's duration is unused: idle timeouts belong to the backends (idle_test.go).
func newFixture(t *testing.T, idleTimeout time.Duration) *fixture {
	return newFixtureWith(t, idleTimeout, func(*Config, string) {})
}

// newFixtureWith lets a test adjust the config; adjust gets the server's base URL.
func newFixtureWith(t *testing.T, idleTimeout time.Duration, adjust func(c *Config, baseURL string)) *fixture {
	t.Helper()
	dir := t.TempDir()
	store, err := users.Open(filepath.Join(dir, "users.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice", "bob", "root"} {
		if err := store.Set(u, u+"-password", u == "root"); err != nil {
			t.Fatal(err)
		}
	}
	toks, err := tokens.Open(filepath.Join(dir, "tokens.json"))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := session.LoadOrCreateKey(filepath.Join(dir, "key"))
	codec, _ := session.NewCodec(key, CookieName(false))
	rev, _ := session.LoadRevocations(filepath.Join(dir, "revoked.json"))
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	store.Clock = clock
	f := &fixture{
		store: store,
		clock: clock,
		alice: newUpstream(t, "alice"), bob: newUpstream(t, "bob"), cookies: map[string]string{},
	}
	f.be = &mapBackend{byUser: map[string]*upstream{"alice": f.alice, "bob": f.bob, "root": newUpstream(t, "root")},
		running: map[string]bool{}, starts: map[string]int{}, stops: map[string]int{}}
	cfg := Config{Backend: f.be, Passwords: auth.Local{Users: store}, Accounts: store, Codec: codec, Revocations: rev, Tokens: toks,
		Clock: f.clock, SessionTTL: 24 * time.Hour, Logger: slog.New(slog.DiscardHandler)}
	var handler http.Handler
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	adjust(&cfg, f.srv.URL)
	f.host = cfg.WorkspaceOrigins
	f.gw = New(cfg)
	handler = f.gw.Handler()
	t.Cleanup(func() {
		f.srv.Close()
		f.gw.Shutdown(context.Background())
	})
	if cfg.Passwords == nil {
		return f
	}
	for _, u := range []string{"alice", "bob", "root"} {
		f.cookies[u] = f.login(t, u, u+"-password")
	}
	return f
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func (f *fixture) login(t *testing.T, user, pw string) string {
	t.Helper()
	c := &http.Client{CheckRedirect: noRedirect}
	req, _ := http.NewRequest("POST", f.srv.URL+"/_codehub/login", strings.NewReader(url.Values{"username": {user}, "password": {pw}, "next": {"/"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if f.host != "" {
		req.Host = f.host
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login %s: status %d", user, resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if c.Name == CookieName(false) {
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
				t.Fatalf("session cookie flags: HttpOnly=%v SameSite=%v", c.HttpOnly, c.SameSite)
			}
			return c.Value
		}
	}
	t.Fatal("no session cookie set")
	return ""
}

func (f *fixture) do(t *testing.T, method, path string, hdr map[string]string) (*http.Response, string) {
	return f.doBody(t, method, path, hdr, "")
}

func (f *fixture) doBody(t *testing.T, method, path string, hdr map[string]string, body string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, f.srv.URL+path, rd)
	if f.host != "" {
		req.Host = f.host
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{CheckRedirect: noRedirect}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(out)
}

func (f *fixture) cookie(user string) string { return CookieName(false) + "=" + f.cookies[user] }

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

func TestHeadersStrippedBeforeWorkspace(t *testing.T) {
	f := newFixture(t, 0)
	f.be.running["alice"] = true
	resp, _ := f.do(t, "GET", "/x", map[string]string{
		"Cookie":             "theme=dark; " + f.cookie("alice") + "; vscode-tkn=abc",
		"Authorization":      "Bearer secret-token",
		"X-Remote-User":      "bob",
		"X-Forwarded-For":    "6.6.6.6",
		"X-Forwarded-Host":   "evil.example",
		"X-Forwarded-Proto":  "https",
		"Forwarded":          "for=6.6.6.6;host=evil.example",
		"X-V3io-Session-Key": "stolen",
		"X-Real-Ip":          "6.6.6.6",
	})
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	h := *f.alice.last.Load()
	if strings.Contains(h.Get("Cookie"), f.cookies["alice"]) || strings.Contains(h.Get("Cookie"), "codehub_session") {
		t.Errorf("session cookie reached the workspace: %q", h.Get("Cookie"))
	}
	// One Cookie line, as a browser sends it (RFC 6265 §5.4): the other cookies in their
	// order, then the workspace's credential.
	if got := h.Values("Cookie"); len(got) != 1 || got[0] != "theme=dark; vscode-tkn=abc; "+backend.CodeServerCookie+"=cred-of-alice" {
		t.Errorf("other cookies not kept, or the credential not added: %q", got)
	}
	for _, k := range []string{"Authorization", "X-Remote-User", "Forwarded", "X-V3io-Session-Key", "X-Real-Ip"} {
		if v := h.Get(k); v != "" {
			t.Errorf("%s reached the workspace: %q", k, v)
		}
	}
	srvHost := mustURL(f.srv.URL).Host
	if got := h.Get("X-Forwarded-Host"); got != srvHost {
		t.Errorf("X-Forwarded-Host = %q, want the real host %q", got, srvHost)
	}
	if got := h.Get("X-Seen-Host"); got != srvHost {
		t.Errorf("Host = %q, want the gateway's host %q (code-server's origin check needs it)", got, srvHost)
	}
	if got := h.Get("X-Forwarded-For"); got != "127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q, want only the real peer", got)
	}
	if got := h.Get("X-Forwarded-Proto"); got != "http" {
		t.Errorf("X-Forwarded-Proto = %q", got)
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

func TestLogoutRevokesCopiedCookie(t *testing.T) {
	f := newFixture(t, 0)
	f.be.running["alice"] = true
	copied := f.cookie("alice")
	resp, _ := f.do(t, "POST", "/_codehub/logout", map[string]string{"Cookie": copied})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	resp, _ = f.do(t, "GET", "/", map[string]string{"Cookie": copied})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("revoked cookie: status %d, want 401", resp.StatusCode)
	}
}

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

func TestLoginFailures(t *testing.T) {
	f := newFixture(t, 0)
	for _, tt := range []struct{ user, pw string }{{"alice", "wrong"}, {"nobody", "alice-password"}, {"", ""}, {"Alice", "alice-password"}} {
		resp, err := (&http.Client{CheckRedirect: noRedirect}).PostForm(f.srv.URL+"/_codehub/login", url.Values{"username": {tt.user}, "password": {tt.pw}})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 || !strings.Contains(string(body), "Wrong user name or password") {
			t.Errorf("login %q/%q: status %d, cookies %d", tt.user, tt.pw, resp.StatusCode, len(resp.Cookies()))
		}
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

func TestNavigationDetection(t *testing.T) {
	for _, tt := range []struct {
		method string
		hdr    map[string]string
		want   bool
	}{
		{"GET", map[string]string{"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}, true},
		{"GET", map[string]string{"Sec-Fetch-Mode": "navigate"}, true},
		{"GET", map[string]string{"Accept": "text/html,application/xhtml+xml"}, true},
		{"POST", map[string]string{"Sec-Fetch-Mode": "navigate"}, false},
		{"GET", map[string]string{"Sec-Fetch-Mode": "cors", "Accept": "text/html"}, false},
		{"GET", map[string]string{"Sec-Fetch-Mode": "websocket"}, false},
		{"GET", map[string]string{"Accept": "text/html", "Upgrade": "websocket"}, false},
		{"GET", map[string]string{"Accept": "*/*"}, false},
	} {
		r := httptest.NewRequest(tt.method, "/", nil)
		for k, v := range tt.hdr {
			r.Header.Set(k, v)
		}
		if got := isNavigation(r); got != tt.want {
			t.Errorf("isNavigation(%s %v) = %v", tt.method, tt.hdr, got)
		}
	}
}

// TestRewriteCookies: the gateway's cookies leave the Cookie lines, the workspace's
// credential is added, everything else is kept as sent.
func TestRewriteCookies(t *testing.T) {
	strip := []string{"codehub_session", "codehub_ws"}
	for _, tt := range []struct {
		in        []string
		add, want string
	}{
		{[]string{"codehub_session=x"}, "", ""},
		{[]string{"a=1; codehub_session=x; b=2"}, "", "a=1; b=2"},
		{[]string{"codehub_session_other=1; codehub_session=x"}, "", "codehub_session_other=1"},
		{[]string{"a=1"}, "", "a=1"},
		{[]string{"codehub_session=x"}, "cs=secret", "cs=secret"},
		{[]string{"a=1; codehub_session=x;codehub_ws=y; b=2"}, "cs=secret", "a=1; b=2; cs=secret"},
		{[]string{"a=1", "codehub_ws=y"}, "cs=secret", "a=1, cs=secret"},
		{[]string{"a=1"}, "cs=secret", "a=1, cs=secret"},
		{nil, "cs=secret", "cs=secret"},
		{[]string{"codehub_session"}, "", ""},
	} {
		h := http.Header{}
		if tt.in != nil {
			h["Cookie"] = append([]string(nil), tt.in...)
		}
		rewriteCookies(h, strip, tt.add)
		if got := strings.Join(h["Cookie"], ", "); got != tt.want {
			t.Errorf("rewriteCookies(%q, add %q) = %q, want %q", tt.in, tt.add, got, tt.want)
		}
		if _, ok := h["Cookie"]; ok == (tt.want == "") {
			t.Errorf("rewriteCookies(%q, add %q): Cookie present = %v", tt.in, tt.add, ok)
		}
	}
}

func TestHealthz(t *testing.T) {
	f := newFixture(t, 0)
	resp, body := f.do(t, "GET", "/_codehub/healthz", nil)
	if resp.StatusCode != 200 || body != "ok\n" {
		t.Fatalf("healthz: %d %q", resp.StatusCode, body)
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
