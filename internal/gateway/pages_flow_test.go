package gateway

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/codehub-dev/codehub/internal/profile"
)

var navigate = map[string]string{"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}

func as(user string, hdr map[string]string) map[string]string {
	out := map[string]string{"Cookie": CookieName(false) + "=" + user}
	for k, v := range hdr {
		out[k] = v
	}
	return out
}

// TestFirstVisitProfileChoice: a user without a workspace who may use two profiles is
// shown the choice on the first visit and gets the one chosen; one she may not use is
// refused; with one profile, or a backend that applies none, the visit starts at once.
func TestFirstVisitProfileChoice(t *testing.T) {
	list := append([]profile.Profile{}, twoProfiles...)
	list = append(list, profile.Profile{Name: "secret", Groups: []string{"ml-team"}})
	f, cb := pagesFixture(t, true, list)
	cb.missing["alice"] = true
	resp, _ := f.do(t, "GET", "/some/file?x=1", as(f.cookies["alice"], navigate))
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/_codehub/?next="+url.QueryEscape("/some/file?x=1") {
		t.Fatalf("first visit: %d → %q, want the profile choice", resp.StatusCode, loc)
	}
	if f.be.starts["alice"] != 0 {
		t.Fatal("the first visit started a workspace before the choice")
	}
	_, body := f.do(t, "GET", "/_codehub/?next="+url.QueryEscape("/some/file?x=1"), map[string]string{"Cookie": f.cookie("alice")})
	for _, want := range []string{`<select id="profile" name="profile">`, `value="small" selected`, `value="gpu"`, "1 GPU", `name="next" value="/some/file?x=1"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the choice lacks %q", want)
		}
	}
	if strings.Contains(body, `value="secret"`) {
		t.Error("a profile of another group is offered")
	}
	csrf := csrfRE.FindStringSubmatch(body)[1]
	resp, _ = f.post(t, "/_codehub/workspace", map[string]string{"Cookie": f.cookie("alice")}, form(csrf, "action", "create", "profile", "secret", "next", "/"))
	if resp.StatusCode != http.StatusForbidden || cb.profiles["alice"] != "" || f.be.starts["alice"] != 0 {
		t.Fatalf("a profile of another group: %d, profile %q, starts %d", resp.StatusCode, cb.profiles["alice"], f.be.starts["alice"])
	}
	resp, _ = f.post(t, "/_codehub/workspace", map[string]string{"Cookie": f.cookie("alice")}, form(csrf, "action", "create", "profile", "gpu", "next", "/some/file?x=1"))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/some/file?x=1" || cb.profiles["alice"] != "gpu" || f.be.starts["alice"] != 1 {
		t.Fatalf("create with gpu: %d → %q, profile %q, starts %d", resp.StatusCode, resp.Header.Get("Location"), cb.profiles["alice"], f.be.starts["alice"])
	}
	// The admin may use every profile (Allows), so root is offered the group's too.
	cb.missing["root"] = true
	if _, body := f.do(t, "GET", "/_codehub/", map[string]string{"Cookie": f.cookie("root")}); !strings.Contains(body, `value="secret"`) {
		t.Error("the admin is not offered every profile")
	}

	for _, c := range []struct {
		name string
		full bool
		list []profile.Profile
	}{{"one profile", true, twoProfiles[:1]}, {"a backend without profiles", false, twoProfiles}} {
		f, cb := pagesFixture(t, c.full, c.list)
		cb.missing["alice"] = true
		resp, body := f.do(t, "GET", "/", as(f.cookies["alice"], navigate))
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "Starting your workspace") || f.be.starts["alice"] != 1 {
			t.Errorf("%s: the first visit got %d (starts %d), want the one-click start", c.name, resp.StatusCode, f.be.starts["alice"])
		}
		if !c.full {
			cb.missing["bob"] = true
			if _, body := f.do(t, "GET", "/_codehub/", map[string]string{"Cookie": f.cookie("bob")}); !strings.Contains(body, "not supported by this backend") || strings.Contains(body, "<select id=\"profile\"") {
				t.Errorf("%s: the home page does not say profiles are not supported", c.name)
			}
		}
	}
}

// TestHomePageWorkspaceAndTokens: the state and its buttons, a token shown once then
// listed with its last use, revocation, and deletion only after the page that says the
// files go too (and not at all without a backend that deletes).
func TestHomePageWorkspaceAndTokens(t *testing.T) {
	f, cb := pagesFixture(t, true, twoProfiles)
	f.be.running["alice"] = true
	cb.activity["alice"] = f.clock.Now().Add(-5 * time.Minute)
	alice := map[string]string{"Cookie": f.cookie("alice")}
	_, body := f.do(t, "GET", "/_codehub/", alice)
	for _, want := range []string{"Running", "5 min ago", "small", "cpu 500m–2", `id="stop"`, `id="delete"`, "Deleting removes the workspace and every file"} {
		if !strings.Contains(body, want) {
			t.Errorf("home page lacks %q", want)
		}
	}
	csrf := f.csrf(t, "alice")
	resp, body := f.post(t, "/_codehub/tokens", alice, form(csrf, "action", "create", "name", "laptop", "ttl", "720h"))
	secret := regexp.MustCompile(`chub_[A-Za-z0-9_-]+`).FindString(body)
	if resp.StatusCode != 200 || secret == "" || !strings.Contains(body, "not shown again") {
		t.Fatalf("mint: %d %q", resp.StatusCode, secret)
	}
	_, body = f.do(t, "GET", "/_codehub/", alice)
	if strings.Contains(body, secret) || !strings.Contains(body, "laptop") || !strings.Contains(body, "never</td>") {
		t.Fatalf("the token list shows the secret again, or not the token")
	}
	f.clock.Advance(2 * time.Minute)
	if resp, _ := f.do(t, "GET", "/_codehub/api/v1/workspace", map[string]string{"Authorization": "Bearer " + secret}); resp.StatusCode != 200 {
		t.Fatalf("the new token: %d", resp.StatusCode)
	}
	f.clock.Advance(3 * time.Minute)
	if _, body = f.do(t, "GET", "/_codehub/", alice); !strings.Contains(body, "3 min ago") {
		t.Error("the token's last use is not listed")
	}
	id := regexp.MustCompile(`data-token="([0-9a-f]+)"`).FindStringSubmatch(body)[1]
	if resp, _ := f.post(t, "/_codehub/tokens", alice, form(csrf, "action", "revoke", "id", id)); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if resp, _ := f.do(t, "GET", "/_codehub/api/v1/workspace", map[string]string{"Authorization": "Bearer " + secret}); resp.StatusCode != 401 {
		t.Fatalf("revoked token: %d", resp.StatusCode)
	}

	resp, body = f.post(t, "/_codehub/workspace", alice, form(csrf, "action", "delete"))
	if resp.StatusCode != 200 || !strings.Contains(body, "every file in it") || !strings.Contains(body, `name="confirm" value="yes"`) || cb.deletes["alice"] != 0 {
		t.Fatalf("delete without confirmation: %d deletes %d", resp.StatusCode, cb.deletes["alice"])
	}
	if resp, _ := f.post(t, "/_codehub/workspace", alice, form(csrf, "action", "delete", "confirm", "yes")); resp.StatusCode != http.StatusSeeOther || cb.deletes["alice"] != 1 {
		t.Fatalf("delete: %d deletes %d", resp.StatusCode, cb.deletes["alice"])
	}
	if _, body := f.do(t, "GET", "/_codehub/?done=deleted", alice); !strings.Contains(body, "Create your workspace") || !strings.Contains(body, "were deleted") {
		t.Error("after the deletion the page does not offer a new workspace")
	}

	f2, _ := pagesFixture(t, false, twoProfiles)
	_, body = f2.do(t, "GET", "/_codehub/", map[string]string{"Cookie": f2.cookie("alice")})
	if strings.Contains(body, `id="delete"`) || !strings.Contains(body, "Deleting a workspace is not supported by this backend") {
		t.Error("without a Deleter the page offers deletion")
	}
	if resp, _ := f2.post(t, "/_codehub/workspace", map[string]string{"Cookie": f2.cookie("alice")}, form(f2.csrf(t, "alice"), "action", "delete", "confirm", "yes")); resp.StatusCode != http.StatusConflict {
		t.Errorf("delete without a Deleter: %d", resp.StatusCode)
	}
}

// TestTryAgainNeedsItsCSRFToken: the failed start's "Try again" form carries the session's
// token; the start happens with it and not without.
func TestTryAgainNeedsItsCSRFToken(t *testing.T) {
	f, cb := pagesFixture(t, true, twoProfiles)
	cb.failed["alice"] = "image pull failed"
	resp, body := f.do(t, "GET", "/", as(f.cookies["alice"], navigate))
	m := csrfRE.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "image pull failed") || m == nil {
		t.Fatalf("failed start page: %d, token %v", resp.StatusCode, m != nil)
	}
	alice := map[string]string{"Cookie": f.cookie("alice")}
	if resp, _ := f.post(t, "/_codehub/start", alice, form("", "next", "/")); resp.StatusCode != http.StatusForbidden || f.be.starts["alice"] != 0 {
		t.Fatalf("Try again without the token: %d, starts %d", resp.StatusCode, f.be.starts["alice"])
	}
	if resp, _ := f.post(t, "/_codehub/start", alice, form(m[1], "next", "/x")); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/x" || f.be.starts["alice"] != 1 {
		t.Fatalf("Try again: %d → %q, starts %d", resp.StatusCode, resp.Header.Get("Location"), f.be.starts["alice"])
	}
}
