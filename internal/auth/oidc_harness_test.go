package auth

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/testkit"
)

// The OIDC tests' harness: a real mock provider (mockoidc), the app under test behind
// httptest, and a browser with a cookie jar that follows the login flow.

// testUser is a mockoidc user whose ID token claims a test can bend (audience,
// expiry, nonce, issuer) and extend (uid, custom claims).
type testUser struct {
	*mockoidc.MockUser
	mutate func(*mockoidc.IDTokenClaims)
	extra  map[string]any
}

func (u testUser) Claims(scope []string, c *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	if u.mutate != nil {
		u.mutate(c)
	}
	base, err := u.MockUser.Claims(scope, c)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(base)
	if err != nil {
		return nil, err
	}
	m := jwt.MapClaims{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range u.extra {
		m[k] = v
	}
	return m, nil
}

type oidcHarness struct {
	t    *testing.T
	m    *mockoidc.MockOIDC
	app  *httptest.Server
	o    *OIDC
	logs *testkit.Buffer

	mu        sync.Mutex
	authQuery []url.Values // authorization requests seen by the provider
	signedIn  []signedIn
}

type signedIn struct {
	id   identity.Identity
	next string
}

func newOIDCHarness(t *testing.T, mod func(*OIDCConfig)) *oidcHarness {
	t.Helper()
	h := &oidcHarness{t: t}
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	m.AddMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == mockoidc.AuthorizationEndpoint {
				h.mu.Lock()
				h.authQuery = append(h.authQuery, r.URL.Query())
				h.mu.Unlock()
			}
			next.ServeHTTP(w, r)
		})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ln, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown() })
	h.m = m

	var handler http.Handler
	h.app = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(h.app.Close)

	log, logs := testLogger()
	h.logs = logs
	cfg := OIDCConfig{
		Issuer:       m.Issuer(),
		ClientID:     m.ClientID,
		ClientSecret: m.ClientSecret,
		RedirectURL:  h.app.URL + OIDCCallbackPath,
		Scopes:       []string{"profile", "email", "groups"},
		StateKey:     []byte("0123456789abcdef0123456789abcdef"),
		Logger:       log,
	}
	if mod != nil {
		mod(&cfg)
	}
	h.o, err = NewOIDC(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/_codehub/oidc/", h.o.Handler(func(w http.ResponseWriter, r *http.Request, id identity.Identity, next string) {
		h.mu.Lock()
		h.signedIn = append(h.signedIn, signedIn{id, next})
		h.mu.Unlock()
		io.WriteString(w, "signed in as "+id.User)
	}))
	handler = mux
	return h
}

// client does not follow redirects, so each hop can be inspected and tampered with.
func newBrowser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// startLogin runs login → provider authorize and returns the callback URL the provider
// redirected to (not yet visited).
func (h *oidcHarness) startLogin(c *http.Client, next string) string {
	t := h.t
	t.Helper()
	resp, _ := get(t, c, h.app.URL+h.o.LoginPath(next))
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("login: status %d", resp.StatusCode)
	}
	var stateCookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == OIDCStateCookie {
			stateCookie = ck
		}
	}
	if stateCookie == nil || !stateCookie.HttpOnly || stateCookie.SameSite != http.SameSiteLaxMode || stateCookie.Path != OIDCCallbackPath || stateCookie.MaxAge != 600 {
		t.Fatalf("state cookie attributes: %+v", stateCookie)
	}
	resp, _ = get(t, c, resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: status %d", resp.StatusCode)
	}
	cb := resp.Header.Get("Location")
	if !strings.HasPrefix(cb, h.app.URL+OIDCCallbackPath+"?") {
		t.Fatalf("provider redirected to %q", cb)
	}
	return cb
}

func (h *oidcHarness) signIns() []signedIn {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]signedIn(nil), h.signedIn...)
}

func mustQuery(t *testing.T, u string) url.Values {
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Query()
}
