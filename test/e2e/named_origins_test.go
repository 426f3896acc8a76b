package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/codehub-dev/codehub/internal/identity"
)

// TestNamedWorkspaceOrigins: with per-workspace origins (TLS, wildcard host) and real
// code-servers, a named workspace is served on its own host <full name>.<base>, which a
// one-host link /w/<name>/ leads to; another user gets no handoff to it and its host
// refuses his cookie; an admin may open it (audited).
func TestNamedWorkspaceOrigins(t *testing.T) {
	state := stateWithUsers(t, "alice", "bob")
	addUser(t, state, "admin", "admin-password", true)
	o := startOriginsGateway(t, state)
	g, base, client, signIn := o.gateway, o.base, o.client, o.signIn
	visit := o.visit
	mlHost := identity.NamedWorkspaceName("alice", "ml") + "." + base
	alice := signIn("alice")
	token := mintTokenWith(t, alice, "https://"+base)
	req, _ := http.NewRequest("POST", "https://"+base+"/_codehub/api/v1/workspaces/alice/ml/start", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if resp, err := client().Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("create alice/ml: %v %v", resp, err)
	}
	eventually(t, 3*time.Minute, "alice/ml's workbench on its own host", func() bool {
		resp, body := visit(alice, "https://"+base+"/w/ml/")
		if resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusNotFound {
			t.Fatalf("alice opening /w/ml/: %d %s", resp.StatusCode, body)
		}
		return resp.StatusCode == 200 && strings.Contains(body, "vscode-workbench-web-configuration") && resp.Request.URL.Host == mlHost
	})

	bob := signIn("bob")
	for _, u := range []string{"https://" + base + "/_codehub/open?workspace=" + identity.NamedWorkspaceName("alice", "ml"), "https://" + mlHost + "/"} {
		resp, body := visit(bob, u)
		if resp.StatusCode == 200 || strings.Contains(body, "vscode-workbench-web-configuration") {
			t.Errorf("bob at %s: %d (ended at %s)", u, resp.StatusCode, resp.Request.URL)
		}
	}
	// bob's own cookie for his own workspace host does not open alice's.
	visit(bob, "https://"+base+"/") // his default workspace host: a cookie for it
	if resp, body := visit(bob, "https://"+mlHost+"/"); resp.StatusCode == 200 || strings.Contains(body, "vscode-workbench-web-configuration") {
		t.Errorf("bob with his own workspace cookie at alice/ml's host: %d", resp.StatusCode)
	}

	admin := signIn("admin")
	if resp, body := visit(admin, "https://"+base+"/_codehub/open?workspace="+identity.NamedWorkspaceName("alice", "ml")); resp.StatusCode != 200 || !strings.Contains(body, "vscode-workbench-web-configuration") {
		t.Fatalf("the admin opening alice/ml: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	eventually(t, 10*time.Second, "the admin's open in the audit log", func() bool {
		return strings.Contains(g.Stderr.String(), "actor=admin action=workspace.open-as-admin outcome=ok target_user=alice workspace="+identity.NamedWorkspaceName("alice", "ml"))
	})
}
