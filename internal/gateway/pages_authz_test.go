package gateway

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
)

// TestPagesAuthorization is the authorization table of the home and admin pages' endpoints
// (docs/dashboard.md): for each, what anonymous, the user, another user (her session with
// the user's CSRF token: a form lifted from another session), an admin and an API token
// get. Pages take browser sessions only; every state change needs the session's own CSRF
// token; admin endpoints need an admin.
func TestPagesAuthorization(t *testing.T) {
	f, cb := pagesFixture(t, true, twoProfiles)
	f.be.running["alice"], f.be.running["bob"] = true, true
	_, body := f.doBody(t, "POST", "/_codehub/api/v1/tokens", jsonHdr(f.cookie("alice")), `{"name":"cli"}`)
	var tok struct{ ID, Token string }
	if err := json.Unmarshal([]byte(body), &tok); err != nil || tok.Token == "" {
		t.Fatalf("mint: %s", body)
	}
	aliceCSRF, rootCSRF := f.csrf(t, "alice"), f.csrf(t, "root")
	type caller struct {
		name string
		hdr  map[string]string
		csrf string
	}
	callers := []caller{
		{"anonymous", nil, ""},
		{"token", map[string]string{"Authorization": "Bearer " + tok.Token}, aliceCSRF},
		{"other user", map[string]string{"Cookie": f.cookie("bob")}, aliceCSRF},
		{"admin", map[string]string{"Cookie": f.cookie("root")}, rootCSRF},
		{"user", map[string]string{"Cookie": f.cookie("alice")}, aliceCSRF},
	}
	// want: anonymous, token, other user, admin, user (0 = not sent).
	rows := []struct {
		method, path string
		fields       []string
		want         [5]int
	}{
		{"GET", "/_codehub/", nil, [5]int{401, 401, 200, 200, 200}},
		{"POST", "/_codehub/workspace", []string{"action", "stop"}, [5]int{401, 401, 403, 303, 303}},
		{"POST", "/_codehub/workspace", []string{"action", "start"}, [5]int{401, 401, 403, 303, 303}},
		{"POST", "/_codehub/workspace", []string{"action", "create", "profile", "gpu"}, [5]int{401, 401, 403, 303, 303}},
		{"POST", "/_codehub/workspace", []string{"action", "delete"}, [5]int{401, 401, 403, 200, 200}}, // the confirmation page
		{"POST", "/_codehub/tokens", []string{"action", "create", "name", "page"}, [5]int{401, 401, 403, 200, 200}},
		// Another user's token: the admin too (the page manages one's own; the API is for others').
		{"POST", "/_codehub/tokens", []string{"action", "revoke", "id", tok.ID}, [5]int{401, 401, 403, 404, 0}},
		{"GET", "/_codehub/admin", nil, [5]int{401, 401, 403, 200, 403}},
		{"POST", "/_codehub/admin/workspace", []string{"action", "stop", "user", "bob"}, [5]int{401, 401, 403, 303, 403}},
		{"POST", "/_codehub/admin/workspace", []string{"action", "start", "user", "bob"}, [5]int{401, 401, 403, 303, 403}},
		{"POST", "/_codehub/admin/workspace", []string{"action", "delete", "user", "bob"}, [5]int{401, 401, 403, 200, 403}},
		{"POST", "/_codehub/admin/stop-idle", []string{"minutes", "30"}, [5]int{401, 401, 403, 200, 403}},
		{"POST", "/_codehub/admin/user", []string{"action", "add", "user", "dave", "password", "dave-password"}, [5]int{401, 401, 403, 200, 403}},
		{"POST", "/_codehub/admin/user", []string{"action", "grant", "user", "dave"}, [5]int{401, 401, 403, 303, 403}},
		{"POST", "/_codehub/admin/user", []string{"action", "password", "user", "dave"}, [5]int{401, 401, 403, 200, 403}},
		{"POST", "/_codehub/admin/user", []string{"action", "delete", "user", "dave", "confirm", "yes"}, [5]int{401, 401, 403, 303, 403}},
		{"POST", "/_codehub/logout", nil, [5]int{303, 303, 403, 0, 0}},
	}
	for _, row := range rows {
		for i, c := range callers {
			if row.want[i] == 0 {
				continue
			}
			var resp *http.Response
			var body string
			if row.method == "GET" {
				resp, body = f.do(t, "GET", row.path, c.hdr)
			} else {
				resp, body = f.post(t, row.path, c.hdr, form(c.csrf, row.fields...))
			}
			if resp.StatusCode != row.want[i] {
				t.Errorf("%s %s %v as %s: status %d, want %d\n%.300s", row.method, row.path, row.fields, c.name, resp.StatusCode, row.want[i], body)
			}
		}
	}
	// Without its CSRF token a form fails for the right session too.
	for _, p := range []string{"/_codehub/workspace", "/_codehub/tokens", "/_codehub/admin/workspace", "/_codehub/admin/user", "/_codehub/admin/stop-idle", "/_codehub/logout"} {
		for _, csrf := range []string{"", aliceCSRF[:len(aliceCSRF)-2] + "AA"} {
			resp, _ := f.post(t, p, map[string]string{"Cookie": f.cookie("root")}, form(csrf, "action", "stop", "user", "bob", "minutes", "1"))
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("POST %s with csrf %q: status %d, want 403", p, csrf, resp.StatusCode)
			}
		}
	}
	// What happened is exactly what the allowed rows did: alice stopped once (by herself),
	// bob once (by the admin), root once (his own home page); no one deleted anything.
	if f.be.stops["alice"] != 1 || f.be.stops["bob"] != 1 || f.be.stops["root"] != 1 || len(cb.deletes) != 0 {
		t.Errorf("stops %v deletes %v", f.be.stops, cb.deletes)
	}
	if cb.profiles["alice"] != "gpu" || cb.profiles["bob"] != "" {
		t.Errorf("profiles %v: want alice's gpu only", cb.profiles)
	}
	if _, err := f.gw.cfg.Tokens.Get(tok.ID); err != nil {
		t.Errorf("alice's token was revoked by someone else: %v", err)
	}
	if _, _, ok := f.store.Account("dave"); ok {
		t.Error("dave was not deleted")
	}
	// The user's own sign-out, last: it ends her session.
	resp, _ := f.post(t, "/_codehub/logout", map[string]string{"Cookie": f.cookie("alice")}, url.Values{"csrf": {aliceCSRF}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", resp.StatusCode)
	}
	if resp, _ := f.do(t, "GET", "/_codehub/", map[string]string{"Cookie": f.cookie("alice")}); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("signed-out session: %d", resp.StatusCode)
	}
}
