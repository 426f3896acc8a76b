package gateway

import (
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/codehub-dev/codehub/internal/auth"
)

// TestOIDCSignInThroughGateway signs in through a real in-test OpenID provider
// (mockoidc) with the gateway's OIDC mount, then uses the resulting codehub session.
func TestOIDCSignInThroughGateway(t *testing.T) {
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ln, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown() })

	f := newFixtureWith(t, 0, func(c *Config, base string) {
		o, err := auth.NewOIDC(auth.OIDCConfig{Issuer: m.Issuer(), ClientID: m.ClientID, ClientSecret: m.ClientSecret,
			RedirectURL: base + auth.OIDCCallbackPath, StateKey: []byte("0123456789abcdef0123456789abcdef"),
			Scopes: []string{"profile", "email", "groups"}})
		if err != nil {
			t.Fatal(err)
		}
		c.Interactive = o
		c.Passwords = nil // SSO only: the form is gone, visits go to the provider
		c.AdminGroups = []string{"design"}
	})
	// mockoidc's default user is jane.doe; give her a workspace.
	f.be.byUser["jane.doe"] = newUpstream(t, "jane")
	f.be.running["jane.doe"] = true

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	req, _ := http.NewRequest("GET", f.srv.URL+"/some/page?x=1", nil)
	req.Header.Set("Accept", "text/html")
	resp, err := browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/some/page" {
		t.Fatalf("after the OIDC round trip the browser is at %s, want the page it asked for", resp.Request.URL)
	}
	u, _ := url.Parse(f.srv.URL)
	var session string
	for _, c := range jar.Cookies(u) {
		if c.Name == CookieName(false) {
			session = c.Value
		}
	}
	if session == "" {
		t.Fatal("no codehub session after OIDC sign-in")
	}
	_, body := f.do(t, "GET", "/", map[string]string{"Cookie": CookieName(false) + "=" + session})
	if body != "workspace:jane" {
		t.Fatalf("jane's session reached %q", body)
	}
	// Admin was decided by the gateway at sign-in, from the groups the provider returned
	// (mockoidc's jane is in "design"); the session keeps it.
	if resp, _ := f.do(t, "GET", "/_codehub/auth/verify", map[string]string{"Cookie": CookieName(false) + "=" + session}); resp.Header.Get("X-Codehub-Admin") != "true" {
		t.Errorf("jane (group design, --admin-groups design) is not admin: %d %v", resp.StatusCode, resp.Header)
	}
	// The password form is disabled in SSO-only mode.
	if resp, _ := f.doBody(t, "POST", "/_codehub/login", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "username=alice&password=alice-password"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("password sign-in with SSO only: %d", resp.StatusCode)
	}
	// A callback with a forged state never signs in.
	resp, _ = f.do(t, "GET", auth.OIDCCallbackPath+"?code=x&state=forged", nil)
	if resp.StatusCode < 400 || strings.Contains(strings.Join(resp.Header.Values("Set-Cookie"), ";"), CookieName(false)+"=") {
		t.Fatalf("forged callback: %d %v", resp.StatusCode, resp.Header)
	}
}
