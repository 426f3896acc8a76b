package gateway

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Sign-in and sign-out through the gateway's own login form.

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
