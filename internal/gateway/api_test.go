package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func jsonHdr(cookie string) map[string]string {
	return map[string]string{"Cookie": cookie, "Content-Type": "application/json"}
}

func TestAPITokensAndAdminRights(t *testing.T) {
	f := newFixture(t, 0)
	f.be.running["alice"], f.be.running["bob"] = true, true

	// Minting: session + JSON + same origin only.
	resp, body := f.doBody(t, "POST", "/_codehub/api/v1/tokens", jsonHdr(f.cookie("alice")), `{"name":"cli"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create token: %d %s", resp.StatusCode, body)
	}
	var created struct{ ID, Token string }
	json.Unmarshal([]byte(body), &created)
	if !strings.HasPrefix(created.Token, "chub_") {
		t.Fatalf("token %q", created.Token)
	}
	aliceTok := map[string]string{"Authorization": "Bearer " + created.Token}

	_, body = f.doBody(t, "POST", "/_codehub/api/v1/tokens", jsonHdr(f.cookie("root")), `{"name":"admin-cli"}`)
	var rootCreated struct{ Token string }
	json.Unmarshal([]byte(body), &rootCreated)
	rootTok := map[string]string{"Authorization": "Bearer " + rootCreated.Token}

	tests := []struct {
		name   string
		method string
		path   string
		hdr    map[string]string
		body   string
		want   int
	}{
		{"cross-site token mint", "POST", "/_codehub/api/v1/tokens", map[string]string{"Cookie": f.cookie("alice"), "Content-Type": "application/json", "Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, `{"name":"x"}`, 403},
		{"form-encoded token mint", "POST", "/_codehub/api/v1/tokens", map[string]string{"Cookie": f.cookie("alice"), "Content-Type": "application/x-www-form-urlencoded"}, `name=x`, 415},
		{"token mints token", "POST", "/_codehub/api/v1/tokens", map[string]string{"Authorization": "Bearer " + created.Token, "Content-Type": "application/json"}, `{"name":"x"}`, 403},
		{"no auth", "GET", "/_codehub/api/v1/workspaces", nil, "", 401},
		{"garbage token", "GET", "/_codehub/api/v1/workspaces", map[string]string{"Authorization": "Bearer chub_nope"}, "", 401},
		{"alice lists", "GET", "/_codehub/api/v1/workspaces", aliceTok, "", 200},
		{"alice stops bob", "POST", "/_codehub/api/v1/workspaces/bob/stop", aliceTok, "", 403},
		{"alice session stops bob", "POST", "/_codehub/api/v1/workspaces/bob/stop", jsonHdr(f.cookie("alice")), "{}", 403},
		{"cross-site stop own", "POST", "/_codehub/api/v1/workspaces/alice/stop", map[string]string{"Cookie": f.cookie("alice"), "Sec-Fetch-Site": "cross-site"}, "", 403},
		{"alice starts bob", "POST", "/_codehub/api/v1/workspaces/bob/start", aliceTok, "", 403},
		{"alice revokes root's token", "DELETE", "/_codehub/api/v1/tokens/" + "000000000000", aliceTok, "", 404},
		{"root stops bob", "POST", "/_codehub/api/v1/workspaces/bob/stop", rootTok, "", 200},
		{"alice stops herself", "POST", "/_codehub/api/v1/workspaces/alice/stop", aliceTok, "", 200},
	}
	for _, tt := range tests {
		resp, body := f.doBody(t, tt.method, tt.path, tt.hdr, tt.body)
		if resp.StatusCode != tt.want {
			t.Errorf("%s: status %d, want %d (%s)", tt.name, resp.StatusCode, tt.want, body)
		}
	}
	if f.be.stops["bob"] != 1 || f.be.stops["alice"] != 1 {
		t.Fatalf("stops = %v, want bob once (by root) and alice once (by herself)", f.be.stops)
	}

	// Listing: alice sees only her workspace; the admin sees all.
	_, body = f.do(t, "GET", "/_codehub/api/v1/workspaces", aliceTok)
	if strings.Contains(body, `"bob"`) {
		t.Fatalf("alice's list shows bob: %s", body)
	}
	// Even the admin's session cannot open bob's workspace: routing stays by identity.
	f.be.running["bob"] = true
	_, body = f.do(t, "GET", "/", map[string]string{"Cookie": f.cookie("root")})
	if body == "workspace:bob" {
		t.Fatal("admin reached bob's workspace")
	}

	// Revocation takes effect at once.
	resp, _ = f.do(t, "DELETE", "/_codehub/api/v1/tokens/"+created.ID, map[string]string{"Cookie": f.cookie("alice"), "Content-Type": "application/json"})
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if resp, _ := f.do(t, "GET", "/_codehub/api/v1/workspaces", aliceTok); resp.StatusCode != 401 {
		t.Fatalf("revoked token: %d", resp.StatusCode)
	}
}

func TestVerifyEndpoint(t *testing.T) {
	f := newFixture(t, 0)
	resp, _ := f.do(t, "GET", "/_codehub/auth/verify", map[string]string{"Cookie": f.cookie("root")})
	if resp.StatusCode != 200 || resp.Header.Get("X-Remote-User") != "root" || resp.Header.Get("X-Codehub-Admin") != "true" {
		t.Fatalf("verify root: %d %v", resp.StatusCode, resp.Header)
	}
	for _, hdr := range []map[string]string{
		nil,
		{"X-Remote-User": "root"},
		{"Cookie": CookieName(false) + "=" + f.cookies["alice"][:20]},
		{"Authorization": "Bearer chub_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
	} {
		resp, _ := f.do(t, "POST", "/_codehub/auth/verify", hdr)
		if resp.StatusCode != 401 || resp.Header.Get("X-Remote-User") != "" {
			t.Errorf("verify %v: %d user %q", hdr, resp.StatusCode, resp.Header.Get("X-Remote-User"))
		}
	}
}
