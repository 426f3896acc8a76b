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
	"github.com/codehub-dev/codehub/internal/testkit"
	"github.com/codehub-dev/codehub/internal/tokens"
	"github.com/codehub-dev/codehub/internal/users"
)

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

// mapBackend runs nothing: each workspace is a given upstream, keyed by its Ref's String
// ("alice" for alice's default workspace, "alice/dev" for her workspace dev). A start of
// a named workspace it does not have makes one with newUp, when set.
type mapBackend struct {
	mu      sync.Mutex
	byUser  map[string]*upstream
	running map[string]bool
	starts  map[string]int
	stops   map[string]int
	newUp   func(key string) *upstream
}

func (b *mapBackend) Get(_ context.Context, ref backend.Ref) (backend.Workspace, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	key := ref.String()
	up, ok := b.byUser[key]
	if !ok {
		return backend.Workspace{}, backend.ErrNotFound
	}
	w := backend.Workspace{Name: ref.FullName(), User: ref.User, Named: ref.Name, State: backend.StateStopped}
	if b.running[key] {
		w.State, w.Endpoint, w.Credential = backend.StateRunning, mustURL(up.srv.URL), "cred-of-"+key
	}
	return w, nil
}

func (b *mapBackend) Start(ctx context.Context, id identity.Identity, name string) (backend.Workspace, error) {
	ref := backend.Ref{User: id.User, Name: name}
	key := ref.String()
	b.mu.Lock()
	if _, ok := b.byUser[key]; !ok && name != "" && b.newUp != nil {
		b.byUser[key] = b.newUp(key)
	}
	b.starts[key]++
	b.running[key] = true
	b.mu.Unlock()
	w, _ := b.Get(ctx, ref)
	w.State, w.Endpoint = backend.StateStarting, nil
	return w, nil
}

func (b *mapBackend) Stop(_ context.Context, ref backend.Ref) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stops[ref.String()]++
	b.running[ref.String()] = false
	return nil
}

// refOf is the inverse of Ref.String (user names have no slash).
func refOf(key string) backend.Ref {
	user, name, _ := strings.Cut(key, "/")
	return backend.Ref{User: user, Name: name}
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
	clock   *testkit.Clock
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
	clock := testkit.NewClock(time.Unix(1_800_000_000, 0))
	store.Clock = clock
	f := &fixture{
		store: store,
		clock: clock,
		alice: newUpstream(t, "alice"), bob: newUpstream(t, "bob"), cookies: map[string]string{},
	}
	f.be = &mapBackend{byUser: map[string]*upstream{"alice": f.alice, "bob": f.bob, "root": newUpstream(t, "root")},
		running: map[string]bool{}, starts: map[string]int{}, stops: map[string]int{},
		newUp: func(key string) *upstream { return newUpstream(t, key) }}
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

func TestLogoutRevokesCopiedCookie(t *testing.T) {
	f := newFixture(t, 0)
	f.be.running["alice"] = true
	copied := f.cookie("alice")
	resp, _ := f.post(t, "/_codehub/logout", map[string]string{"Cookie": copied}, form(f.csrf(t, "alice")))
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	resp, _ = f.do(t, "GET", "/", map[string]string{"Cookie": copied})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("revoked cookie: status %d, want 401", resp.StatusCode)
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
