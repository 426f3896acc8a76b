package wsinit

import (
	"os"
	"testing"

	"github.com/codehub-dev/codehub/internal/agent"
)

// TestSetAgentTokenNamesTheWorkspace: the token codehub-init makes is the one the gateway
// checks, for the default workspace (as before named workspaces) and for a named one.
func TestSetAgentTokenNamesTheWorkspace(t *testing.T) {
	for _, tt := range []struct{ name, subject string }{{"", "alice"}, {"ml", "alice\x00ml"}} {
		t.Setenv(agent.EnvToken, "")
		env := map[string]string{agent.EnvUser: "alice", EnvHashedPassword: "secret", agent.EnvWorkspace: tt.name}
		if !SetAgentToken(func(k string) string { return env[k] }) {
			t.Fatalf("workspace %q: no token set", tt.name)
		}
		got := os.Getenv(agent.EnvToken)
		if !agent.Verify(got, tt.subject, "secret") {
			t.Errorf("workspace %q: the token does not verify for %q", tt.name, tt.subject)
		}
		if user, name := agent.SplitSubject(tt.subject); user != "alice" || name != tt.name {
			t.Errorf("SplitSubject(%q) = %q, %q", tt.subject, user, name)
		}
		if tt.name != "" && agent.Verify(got, "alice", "secret") {
			t.Error("a named workspace's token verifies as the default workspace's")
		}
	}
}
