package gateway

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

func (f *fixture) mint(t *testing.T, user string) map[string]string {
	t.Helper()
	resp, body := f.doBody(t, "POST", "/_codehub/api/v1/tokens", jsonHdr(f.cookie(user)), `{"name":"cli"}`)
	var out struct{ Token string }
	if json.Unmarshal([]byte(body), &out); resp.StatusCode != http.StatusCreated || out.Token == "" {
		t.Fatalf("mint for %s: %d %s", user, resp.StatusCode, body)
	}
	return map[string]string{"Authorization": "Bearer " + out.Token}
}

// TestAccountChangesTakeEffectAtOnce is issue #12's row 4: a password change that also
// drops admin, and a deletion, end the account's sessions and tokens on their next use;
// admin is whatever the users file says now, never what a cookie or token recorded.
func TestAccountChangesTakeEffectAtOnce(t *testing.T) {
	f := newFixture(t, 0)
	f.be.running["alice"], f.be.running["bob"] = true, true
	rootTok, aliceTok := f.mint(t, "root"), f.mint(t, "alice")
	rootSession := map[string]string{"Cookie": f.cookie("root")}
	// Control: today root is an admin by session and by token.
	for _, h := range []map[string]string{rootSession, rootTok} {
		if resp, _ := f.do(t, "POST", "/_codehub/api/v1/workspaces/bob/stop", withJSON(h)); resp.StatusCode != 200 {
			t.Fatalf("control: admin stops bob: %d", resp.StatusCode)
		}
	}
	if resp, _ := f.do(t, "GET", "/_codehub/auth/verify", rootSession); resp.Header.Get("X-Codehub-Admin") != "true" {
		t.Fatal("control: verify does not say admin")
	}

	// `codehub users add root --password-stdin` with a new password and without --admin.
	f.clock.Advance(2 * time.Second)
	if err := f.store.Set("root", "a-new-password", false); err != nil {
		t.Fatal(err)
	}
	for name, h := range map[string]map[string]string{"old session": rootSession, "old token": rootTok} {
		if resp, _ := f.do(t, "GET", "/_codehub/api/v1/workspaces", h); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s after a password change: %d, want 401", name, resp.StatusCode)
		}
	}
	if resp, _ := f.do(t, "GET", "/_codehub/auth/verify", rootSession); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("verify with the old session: %d", resp.StatusCode)
	}
	f.cookies["root"] = f.login(t, "root", "a-new-password")
	if resp, _ := f.do(t, "POST", "/_codehub/api/v1/workspaces/bob/start", jsonHdr(f.cookie("root"))); resp.StatusCode != http.StatusForbidden {
		t.Errorf("root without admin starts bob: %d, want 403", resp.StatusCode)
	}
	if resp, _ := f.do(t, "GET", "/_codehub/auth/verify", map[string]string{"Cookie": f.cookie("root")}); resp.StatusCode != 200 || resp.Header.Get("X-Codehub-Admin") != "" {
		t.Errorf("verify of the new session: %d admin %q", resp.StatusCode, resp.Header.Get("X-Codehub-Admin"))
	}

	// `codehub users delete alice`.
	if err := f.store.Delete("alice"); err != nil {
		t.Fatal(err)
	}
	for name, h := range map[string]map[string]string{"session": {"Cookie": f.cookie("alice"), "Accept": "text/html", "Sec-Fetch-Mode": "navigate"}, "token": aliceTok} {
		resp, body := f.do(t, "GET", "/", h)
		if body == "workspace:alice" || (resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusSeeOther) {
			t.Errorf("deleted user's %s: %d %q", name, resp.StatusCode, body)
		}
	}
	if resp, _ := f.do(t, "GET", "/_codehub/api/v1/workspace", aliceTok); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("deleted user's token on the API: %d", resp.StatusCode)
	}
}

// TestDeletedAccountIsStoppedAndItsTokensRemoved: the account watcher stops a deleted
// user's workspace and removes their tokens from the tokens file.
func TestDeletedAccountIsStoppedAndItsTokensRemoved(t *testing.T) {
	f := newFixture(t, 0)
	f.be.running["alice"] = true
	f.mint(t, "alice")
	if err := f.store.Delete("alice"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * accountWatchInterval)
	for {
		f.be.mu.Lock()
		stopped := f.be.stops["alice"]
		f.be.mu.Unlock()
		if stopped > 0 && len(f.gw.cfg.Tokens.List("alice")) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after deleting alice: %d stops, %d tokens left", stopped, len(f.gw.cfg.Tokens.List("alice")))
		}
		time.Sleep(accountWatchInterval / 10)
	}
}

func withJSON(h map[string]string) map[string]string {
	out := map[string]string{"Content-Type": "application/json"}
	for k, v := range h {
		out[k] = v
	}
	return out
}
