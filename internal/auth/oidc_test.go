package auth

import (
	"errors"
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

func TestOIDCLoginSucceeds(t *testing.T) {
	h := newOIDCHarness(t, func(c *OIDCConfig) { c.UIDClaim = "uid_number"; c.GIDClaim = "gid_number" })
	h.m.QueueUser(testUser{MockUser: mockoidc.DefaultUser(), extra: map[string]any{"uid_number": 2001, "gid_number": "3001"}})
	c := newBrowser(t)
	cb := h.startLogin(c, "/user/jane.doe/?folder=/home/coder")
	resp, body := get(t, c, cb)
	if resp.StatusCode != 200 || body != "signed in as jane.doe" {
		t.Fatalf("callback: %d %q", resp.StatusCode, body)
	}
	si := h.signIns()
	if len(si) != 1 {
		t.Fatalf("done called %d times", len(si))
	}
	id := si[0].id
	// Admin is the gateway's policy (here --admin-groups design), from the groups returned.
	if id.User != "jane.doe" || strings.Join(id.Groups, ",") != "engineering,design" || !(Members{Groups: []string{"design"}}).Has(id) || id.Admin ||
		id.UID == nil || *id.UID != 2001 || id.GID == nil || *id.GID != 3001 {
		t.Errorf("identity = %+v", id)
	}
	if si[0].next != "/user/jane.doe/?folder=/home/coder" {
		t.Errorf("next = %q", si[0].next)
	}
	// The state cookie was cleared by the callback.
	for _, ck := range resp.Cookies() {
		if ck.Name == OIDCStateCookie && ck.MaxAge >= 0 {
			t.Errorf("state cookie not cleared: %+v", ck)
		}
	}

	// PKCE: the authorization request carried an S256 challenge, plus state and nonce.
	h.mu.Lock()
	q := h.authQuery[0]
	h.mu.Unlock()
	if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || q.Get("state") == "" || q.Get("nonce") == "" {
		t.Errorf("authorization request = %v", q)
	}
	if q.Get("client_id") != h.m.ClientID || q.Get("redirect_uri") != h.app.URL+OIDCCallbackPath || !strings.Contains(q.Get("scope"), "openid") {
		t.Errorf("authorization request = %v", q)
	}
	assertNoSecrets(t, h.logs.String(), h.m.ClientSecret, q.Get("state"), q.Get("nonce"), mustQuery(t, cb).Get("code"))
}

func TestOIDCRefusals(t *testing.T) {
	past := func(c *mockoidc.IDTokenClaims) { c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Minute)) }
	cases := []struct {
		name   string
		cfg    func(*OIDCConfig)
		user   mockoidc.User
		tamper func(t *testing.T, h *oidcHarness, c *http.Client, cb string) string // returns the URL to visit
		status int
	}{
		{name: "wrong state", tamper: func(t *testing.T, h *oidcHarness, c *http.Client, cb string) string {
			q := mustQuery(t, cb)
			q.Set("state", "attacker-state")
			return h.app.URL + OIDCCallbackPath + "?" + q.Encode()
		}, status: 400},
		{name: "missing state", tamper: func(t *testing.T, h *oidcHarness, c *http.Client, cb string) string {
			q := mustQuery(t, cb)
			q.Del("state")
			return h.app.URL + OIDCCallbackPath + "?" + q.Encode()
		}, status: 400},
		{name: "no state cookie (other browser)", tamper: func(t *testing.T, h *oidcHarness, c *http.Client, cb string) string {
			c.Jar, _ = cookiejar.New(nil)
			return cb
		}, status: 400},
		{name: "forged state cookie", tamper: func(t *testing.T, h *oidcHarness, c *http.Client, cb string) string {
			jar, _ := cookiejar.New(nil)
			u, _ := url.Parse(h.app.URL + OIDCCallbackPath)
			jar.SetCookies(u, []*http.Cookie{{Name: OIDCStateCookie, Value: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", Path: OIDCCallbackPath}})
			c.Jar = jar
			return cb
		}, status: 400},
		{name: "missing code", tamper: func(t *testing.T, h *oidcHarness, c *http.Client, cb string) string {
			q := mustQuery(t, cb)
			q.Del("code")
			return h.app.URL + OIDCCallbackPath + "?" + q.Encode()
		}, status: 400},
		{name: "forged code", tamper: func(t *testing.T, h *oidcHarness, c *http.Client, cb string) string {
			q := mustQuery(t, cb)
			q.Set("code", "forged-code")
			return h.app.URL + OIDCCallbackPath + "?" + q.Encode()
		}, status: 401},
		{name: "provider error", tamper: func(t *testing.T, h *oidcHarness, c *http.Client, cb string) string {
			q := mustQuery(t, cb)
			q.Del("code")
			q.Set("error", "access_denied")
			return h.app.URL + OIDCCallbackPath + "?" + q.Encode()
		}, status: 403},
		{name: "expired state cookie", cfg: func(c *OIDCConfig) {
			start := time.Now()
			calls := 0
			var mu sync.Mutex
			c.Clock = testkit.ClockFunc(func() time.Time { // login at start, callback 11 minutes later
				mu.Lock()
				defer mu.Unlock()
				calls++
				if calls == 1 {
					return start
				}
				return start.Add(11 * time.Minute)
			})
		}, status: 400},
		{name: "wrong audience", user: testUser{MockUser: mockoidc.DefaultUser(), mutate: func(c *mockoidc.IDTokenClaims) {
			c.Audience = jwt.ClaimStrings{"another-client"}
		}}, status: 401},
		{name: "extra audience without our client", user: testUser{MockUser: mockoidc.DefaultUser(), mutate: func(c *mockoidc.IDTokenClaims) {
			c.Audience = jwt.ClaimStrings{"a", "b"}
		}}, status: 401},
		{name: "our audience among others, no azp", user: testUser{MockUser: mockoidc.DefaultUser(), mutate: func(c *mockoidc.IDTokenClaims) {
			c.Audience = append(c.Audience, "another-client")
		}}, status: 401},
		{name: "our audience among others, azp of another client", user: testUser{MockUser: mockoidc.DefaultUser(), mutate: func(c *mockoidc.IDTokenClaims) {
			c.Audience = append(c.Audience, "another-client")
		}, extra: map[string]any{"azp": "another-client"}}, status: 401},
		{name: "wrong issuer", user: testUser{MockUser: mockoidc.DefaultUser(), mutate: func(c *mockoidc.IDTokenClaims) {
			c.Issuer = "https://evil.example/oidc"
		}}, status: 401},
		{name: "expired ID token", user: testUser{MockUser: mockoidc.DefaultUser(), mutate: past}, status: 401},
		{name: "nonce mismatch", user: testUser{MockUser: mockoidc.DefaultUser(), mutate: func(c *mockoidc.IDTokenClaims) { c.Nonce = "other-nonce" }}, status: 401},
		{name: "nonce missing", user: testUser{MockUser: mockoidc.DefaultUser(), mutate: func(c *mockoidc.IDTokenClaims) { c.Nonce = "" }}, status: 401},
		{name: "disallowed group", cfg: func(c *OIDCConfig) { c.AllowedGroups = []string{"admins"} }, status: 403},
		{name: "disallowed user", cfg: func(c *OIDCConfig) { c.AllowedUsers = []string{"john.roe"} }, status: 403},
		{name: "required claim missing", cfg: func(c *OIDCConfig) { c.RequiredClaims = map[string]string{"hd": "example.com"} }, status: 403},
		{name: "user claim with control chars", user: &mockoidc.MockUser{Subject: "s1", PreferredUsername: "jane\u202eadmin", Groups: []string{"engineering"}}, status: 401},
		{name: "user claim with space", user: &mockoidc.MockUser{Subject: "s1", PreferredUsername: "jane admin"}, status: 401},
		{name: "unverified email not used as user", cfg: func(c *OIDCConfig) { c.UserClaim = "upn"; c.AllowedUsers = []string{"jane.doe@example.com"} },
			user: &mockoidc.MockUser{Subject: "s1", Email: "jane.doe@example.com", EmailVerified: false}, status: 403},
		{name: "root uid claim", cfg: func(c *OIDCConfig) { c.UIDClaim = "uid_number" },
			user: testUser{MockUser: mockoidc.DefaultUser(), extra: map[string]any{"uid_number": 0}}, status: 401},
		{name: "non-numeric uid claim", cfg: func(c *OIDCConfig) { c.UIDClaim = "uid_number" },
			user: testUser{MockUser: mockoidc.DefaultUser(), extra: map[string]any{"uid_number": "1001; rm"}}, status: 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newOIDCHarness(t, tc.cfg)
			if tc.user != nil {
				h.m.QueueUser(tc.user)
			}
			c := newBrowser(t)
			cb := h.startLogin(c, "/next")
			target := cb
			if tc.tamper != nil {
				target = tc.tamper(t, h, c, cb)
			}
			resp, body := get(t, c, target)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d (%q), want %d", resp.StatusCode, body, tc.status)
			}
			if loc := resp.Header.Get("Location"); loc != "" {
				t.Errorf("failure redirects to %q (possible loop)", loc)
			}
			if len(h.signIns()) != 0 {
				t.Fatalf("done called on a refused sign-in: %+v", h.signIns())
			}
			cleared := false
			for _, ck := range resp.Cookies() {
				cleared = cleared || (ck.Name == OIDCStateCookie && ck.MaxAge < 0)
			}
			if !cleared {
				t.Errorf("state cookie not cleared on failure")
			}
			if want := refusalReason[tc.name]; !strings.Contains(h.logs.String(), want) {
				t.Errorf("refused for another reason than %q:\n%s", want, h.logs.String())
			}
			code := mustQuery(t, cb).Get("code")
			assertNoSecrets(t, h.logs.String(), h.m.ClientSecret, code, mustQuery(t, cb).Get("state"))
			if strings.Contains(body, code) {
				t.Errorf("error page echoes the code")
			}
		})
	}
}

// refusalReason is the logged reason each refusal must be for (the check that fired).
var refusalReason = map[string]string{
	"wrong state":                       "state parameter does not match",
	"missing state":                     "state parameter does not match",
	"no state cookie (other browser)":   "no state cookie",
	"forged state cookie":               "state cookie fails authentication",
	"missing code":                      "missing or over-long code",
	"forged code":                       "token endpoint answered 401",
	"provider error":                    "provider error",
	"expired state cookie":              "state cookie expired",
	"wrong audience":                    "expected audience",
	"extra audience without our client": "expected audience",
	"our audience among others, no azp": "azp is not this client",
	"our audience among others, azp of another client": "azp is not this client",
	"wrong issuer":                      "issued by a different provider",
	"expired ID token":                  "id token expired",
	"nonce mismatch":                    "nonce mismatch",
	"nonce missing":                     "nonce mismatch",
	"disallowed group":                  "neither an allowed user nor in an allowed group",
	"disallowed user":                   "neither an allowed user nor in an allowed group",
	"required claim missing":            "required claim hd",
	"user claim with control chars":     "not a usable user name",
	"user claim with space":             "not a usable user name",
	"unverified email not used as user": "neither an allowed user",
	"root uid claim":                    "claim uid_number is not a unix id",
	"non-numeric uid claim":             "claim uid_number is not a unix id",
}

func TestOIDCReplayedCallback(t *testing.T) {
	h := newOIDCHarness(t, nil)
	c := newBrowser(t)
	cb := h.startLogin(c, "/a")
	u, _ := url.Parse(h.app.URL + OIDCCallbackPath)
	stolen := c.Jar.Cookies(u) // an attacker's copy of the state cookie
	if resp, _ := get(t, c, cb); resp.StatusCode != 200 {
		t.Fatalf("first callback: %d", resp.StatusCode)
	}

	// Same browser again: its state cookie was cleared.
	if resp, _ := get(t, c, cb); resp.StatusCode != 400 {
		t.Errorf("replay from same browser: %d, want 400", resp.StatusCode)
	}
	// With a copy of the state cookie: refused by codehub (state already consumed).
	replay := func(o *OIDC) int {
		jar, _ := cookiejar.New(nil)
		jar.SetCookies(u, stolen)
		c2 := newBrowser(t)
		c2.Jar = jar
		srv := httptest.NewServer(o.Handler(func(w http.ResponseWriter, r *http.Request, id identity.Identity, next string) {
			t.Errorf("replayed code signed in %q", id.User)
		}))
		defer srv.Close()
		// Same callback URL path and query, served by o.
		resp, _ := get(t, c2, srv.URL+OIDCCallbackPath+"?"+mustQuery(t, cb).Encode())
		return resp.StatusCode
	}
	// The cookie jar scopes by host, and 127.0.0.1 on another port is the same host.
	if got := replay(h.o); got != 400 {
		t.Errorf("replay with stolen state cookie: %d, want 400", got)
	}
	// Another replica (same state key, no memory of the first callback): the provider
	// refuses the already-redeemed code.
	o2, err := NewOIDC(h.o.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := replay(o2); got != 401 {
		t.Errorf("replay on another replica: %d, want 401", got)
	}
	if n := len(h.signIns()); n != 1 {
		t.Errorf("%d sign-ins, want 1", n)
	}
}

func TestOIDCProviderDown(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	o, err := NewOIDC(OIDCConfig{Issuer: "http://" + addr + "/oidc", ClientID: "c", ClientSecret: "s", RedirectURL: "http://codehub.test" + OIDCCallbackPath})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(o.Handler(func(http.ResponseWriter, *http.Request, identity.Identity, string) { t.Error("signed in") }))
	defer srv.Close()
	resp, _ := get(t, newBrowser(t), srv.URL+o.LoginPath("/"))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Location") != "" {
		t.Errorf("provider down: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if err := o.Discover(t.Context()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Discover: %v", err)
	}
}

func TestOIDCLoginPathSanitisesNext(t *testing.T) {
	var o OIDC
	for next, want := range map[string]string{
		"/user/a/":       "/_codehub/oidc/login?next=%2Fuser%2Fa%2F",
		"//evil.example": "/_codehub/oidc/login?next=%2F",
		"https://evil":   "/_codehub/oidc/login?next=%2F",
		"/\\evil":        "/_codehub/oidc/login?next=%2F",
	} {
		if got := o.LoginPath(next); got != want {
			t.Errorf("LoginPath(%q) = %q, want %q", next, got, want)
		}
	}
}

func TestNewOIDCValidates(t *testing.T) {
	ok := OIDCConfig{Issuer: "https://idp.example", ClientID: "c", ClientSecret: "s", RedirectURL: "https://codehub.example" + OIDCCallbackPath}
	if _, err := NewOIDC(ok); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*OIDCConfig){
		"no issuer":        func(c *OIDCConfig) { c.Issuer = "" },
		"no secret":        func(c *OIDCConfig) { c.ClientSecret = "" },
		"relative redir":   func(c *OIDCConfig) { c.RedirectURL = OIDCCallbackPath },
		"other path redir": func(c *OIDCConfig) { c.RedirectURL = "https://codehub.example/cb" },
		"short state key":  func(c *OIDCConfig) { c.StateKey = []byte("short") },
	} {
		c := ok
		mod(&c)
		if _, err := NewOIDC(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestOIDCMultipleAudiencesWithOurAZP(t *testing.T) {
	h := newOIDCHarness(t, nil)
	h.m.QueueUser(testUser{MockUser: mockoidc.DefaultUser(), mutate: func(c *mockoidc.IDTokenClaims) {
		c.Audience = append(c.Audience, "another-client")
	}, extra: map[string]any{"azp": h.m.ClientID}})
	c := newBrowser(t)
	if resp, body := get(t, c, h.startLogin(c, "/")); resp.StatusCode != 200 || len(h.signIns()) != 1 {
		t.Fatalf("status %d %q", resp.StatusCode, body)
	}
}
