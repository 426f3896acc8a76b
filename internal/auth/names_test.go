package auth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/codehub-dev/codehub/internal/users"
)

// TestOneNamePolicyForEveryProvider: the names identity.CheckName refuses are refused the
// same way by local accounts, platform session verification, the trusted header and OIDC
// (issue #12 row 8: `codehub users add` used to accept what the others refused).
func TestOneNamePolicyForEveryProvider(t *testing.T) {
	names := map[string]string{"bidi override": "admin\u202e", "fullwidth": "ａｄｍｉｎ", "zero width": "ad\u200bmin", "space": "a b"}
	verifierName := ""
	verifier := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Remote-User", verifierName)
	}))
	defer verifier.Close()
	fwd, err := NewForward(ForwardConfig{URL: verifier.URL, Cookies: []string{"session"}})
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := NewHeader(HeaderConfig{Name: "X-Remote-User", TrustedCIDRs: []string{"192.0.2.1/32"}})
	if err != nil {
		t.Fatal(err)
	}
	oidc, err := NewOIDC(OIDCConfig{Issuer: "https://idp.invalid", ClientID: "c", ClientSecret: "s", RedirectURL: "https://gw.invalid" + OIDCCallbackPath, StateKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	store, _ := users.Open(t.TempDir() + "/users.json")
	for what, name := range names {
		if err := store.Set(name, "long-enough-password", false); err == nil {
			t.Errorf("%s: local account %q accepted", what, name)
		}
		verifierName = name
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", "session=s-"+what)
		if id, err := fwd.Identify(r); err == nil {
			t.Errorf("%s: forward auth accepted %q", what, id.User)
		}
		r = httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "192.0.2.1:4000"
		r.Header.Set("X-Remote-User", name)
		if id, err := hdr.Identify(r); err == nil {
			t.Errorf("%s: header auth accepted %q", what, id.User)
		}
		claims, _ := json.Marshal(map[string]any{"preferred_username": name, "sub": "1"})
		if id, err := oidc.IdentityFromClaims(claims); err == nil {
			t.Errorf("%s: OIDC accepted %q", what, id.User)
		}
	}
	// Control: an ordinary name passes every one of them.
	verifierName = "alice"
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", "session=s-ok")
	if _, err := fwd.Identify(r); err != nil {
		t.Fatalf("control: forward auth refused alice: %v", err)
	}
}
