package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/codehub-dev/codehub/internal/identity"
)

// TestCLINamedWorkspaces drives `codehub workspaces ... --name` against a real gateway
// (local backend, real code-server): a named workspace is created by its first start with
// a profile, listed under its name next to the default one, stopped by an admin and
// deleted alone; unknown and malformed names fail with a non-zero exit that says why.
func TestCLINamedWorkspaces(t *testing.T) {
	state := stateWithUsers(t, "alice")
	addUser(t, state, "root", "root-password", true)
	g := startGateway(t, state, "--idle-timeout", "0")
	aliceTok, rootTok := signedInToken(t, g, "alice", "alice-password"), signedInToken(t, g, "root", "root-password")
	cli := func(token string, args ...string) (string, string, error) {
		cmd := exec.Command(codehubBinary(t), append(append([]string{"workspaces"}, args...), "--server", g.URL)...)
		cmd.Env = append(os.Environ(), "CODEHUB_TOKEN="+token)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"get", "alice", "--name", "ml"}, `user "alice" has no workspace named "ml"`},
		{[]string{"stop", "alice", "--name", "ml"}, `no workspace named "ml"`},
		{[]string{"delete", "alice", "--name", "ml", "--yes"}, `no workspace named "ml"`},
		{[]string{"start", "alice", "--name", "Bad"}, `--name: workspace name "Bad" may contain only lowercase letters`},
		{[]string{"start", "alice", "--name", "a--b"}, "two dashes"},
		{[]string{"delete", "alice", "--name", "ml"}, "pass --yes"},
	} {
		if _, stderr, err := cli(aliceTok, tt.args...); err == nil || !strings.Contains(stderr, tt.want) {
			t.Errorf("workspaces %v: %v, stderr %q; want a non-zero exit saying %q", tt.args, err, stderr, tt.want)
		}
	}

	if out, stderr, err := cli(aliceTok, "start", "alice", "--name", "ml"); err != nil || !strings.Contains(out, "ml") {
		t.Fatalf("start --name ml: %v\n%s%s", err, out, stderr)
	}
	if out, stderr, err := cli(aliceTok, "start", "alice"); err != nil {
		t.Fatalf("start the default: %v\n%s%s", err, out, stderr)
	}
	eventually(t, 2*time.Minute, "both of alice's workspaces running", func() bool {
		out, _, err := cli(aliceTok, "list")
		return err == nil && strings.Count(out, "Running") == 2
	})
	out, _, _ := cli(aliceTok, "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "NAME USER PROFILE STATE LAST ACTIVITY AGE" ||
		strings.Fields(lines[1])[0] != "default" || strings.Fields(lines[2])[0] != "ml" || strings.Fields(lines[2])[1] != "alice" {
		t.Fatalf("list:\n%s", out)
	}
	if out, _, err := cli(aliceTok, "get", "alice", "--name", "ml", "-o", "json"); err != nil || !strings.Contains(out, `"workspace": "ml"`) || !strings.Contains(out, identity.NamedWorkspaceName("alice", "ml")) {
		t.Errorf("get --name ml -o json: %v\n%s", err, out)
	}
	// An admin stops it; the default one runs on.
	if out, stderr, err := cli(rootTok, "stop", "alice", "--name", "ml"); err != nil {
		t.Fatalf("admin stop: %v\n%s%s", err, out, stderr)
	}
	eventually(t, time.Minute, "alice/ml stopped", func() bool {
		out, _, err := cli(aliceTok, "get", "alice", "--name", "ml")
		return err == nil && strings.Contains(out, "Stopped")
	})
	if out, _, err := cli(aliceTok, "get", "alice"); err != nil || !strings.Contains(out, "Running") {
		t.Errorf("the default workspace after stopping ml: %v\n%s", err, out)
	}
	dir := filepath.Join(state, "workspaces", identity.NamedWorkspaceName("alice", "ml"))
	out, stderr, err := cli(aliceTok, "delete", "alice", "--name", "ml", "--yes")
	if err != nil || !strings.Contains(out, "workspace ml of alice deleted") || !strings.Contains(out, dir) {
		t.Fatalf("delete --name ml: %v\n%s%s", err, out, stderr)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("alice/ml's directory after delete: %v", err)
	}
	if _, err := os.Stat(filepath.Join(state, "workspaces", identity.WorkspaceName("alice"), "home")); err != nil {
		t.Errorf("deleting ml touched the default workspace: %v", err)
	}
}
