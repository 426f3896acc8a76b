package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/codehub-dev/codehub/internal/identity"
)

// signedInToken signs user in with a browser session and creates a personal API token.
func signedInToken(t *testing.T, g *gateway, user, password string) string {
	t.Helper()
	b := newBrowser(t, g.URL)
	b.login(t, user, password)
	return mintToken(t, b, "cli")
}

// TestCLIProfilesAndDelete drives `codehub workspaces` and `codehub profiles` against a real
// gateway (local backend, real code-server) with a --profiles file: the kubectl-like table
// and -o json|yaml, start with a profile (its env reaches the workspace), a profile the user
// may not use, unknown users failing with a non-zero exit that names them, and delete.
func TestCLIProfilesAndDelete(t *testing.T) {
	state := stateWithUsers(t, "alice")
	addUser(t, state, "root", "root-password", true)
	profiles := filepath.Join(state, "profiles.yaml")
	if err := os.WriteFile(profiles, []byte(`profiles:
- name: small
  description: the everyday workspace
  default: true
  cpu: {limit: "2"}
  env: [{name: CODEHUB_TEST_PROFILE, value: small}]
- name: gpu
  gpus: 1
  groups: [ml-team]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, state, "--idle-timeout", "0", "--profiles", profiles)
	aliceTok, rootTok := signedInToken(t, g, "alice", "alice-password"), signedInToken(t, g, "root", "root-password")
	cli := func(token string, args ...string) (string, string, error) {
		cmd := exec.Command(codehubBinary(t), append(args, "--server", g.URL)...)
		cmd.Env = append(os.Environ(), "CODEHUB_TOKEN="+token)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}

	// Unknown users fail clearly, with a non-zero exit, for an admin too.
	for _, args := range [][]string{{"start", "nosuchuser"}, {"stop", "nosuchuser"}, {"get", "nosuchuser"}, {"delete", "nosuchuser", "--yes"}} {
		_, stderr, err := cli(rootTok, append([]string{"workspaces"}, args...)...)
		if err == nil || !strings.Contains(stderr, `"nosuchuser" has no workspace`) || !strings.Contains(stderr, "HTTP 404") {
			t.Errorf("workspaces %v: %v, stderr %q; want a non-zero exit naming the user", args, err, stderr)
		}
	}
	if _, stderr, err := cli(aliceTok, "workspaces", "start", "alice", "--profile", "gpu"); err == nil || !strings.Contains(stderr, `profile "gpu" is open to the groups ml-team only`) {
		t.Errorf("alice choosing gpu: %v %q", err, stderr)
	}

	// The profiles she may use, with what the local backend ignores.
	out, _, err := cli(aliceTok, "profiles", "list")
	if err != nil || !strings.Contains(out, "IGNORED") || !strings.Contains(out, "small (default)") || strings.Contains(out, "gpu") {
		t.Errorf("profiles list: %v\n%s", err, out)
	}
	out, _, err = cli(aliceTok, "profiles", "list", "-o", "yaml")
	var listed struct {
		Profiles []struct {
			Name    string
			Ignored []string
		}
	}
	if err != nil || yaml.Unmarshal([]byte(out), &listed) != nil || len(listed.Profiles) != 1 || strings.Join(listed.Profiles[0].Ignored, ",") != "cpu" {
		t.Errorf("profiles list -o yaml: %v\n%s", err, out)
	}

	if out, stderr, err := cli(aliceTok, "workspaces", "start", "alice", "--profile", "small"); err != nil {
		t.Fatalf("start: %v\n%s%s", err, out, stderr)
	}
	eventually(t, 2*time.Minute, "alice's workspace running", func() bool {
		out, _, err := cli(aliceTok, "workspaces", "get", "alice")
		return err == nil && strings.Contains(out, "Running")
	})
	out, _, err = cli(aliceTok, "workspaces", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err != nil || len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "NAME USER PROFILE STATE LAST ACTIVITY AGE" {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if f := strings.Fields(lines[1]); len(f) != 6 || f[0] != "default" || f[1] != "alice" || f[2] != "small" || f[3] != "Running" || !strings.HasSuffix(f[5], "s") {
		t.Errorf("list row %q: want name, alice, small, Running, an activity and an age in seconds", lines[1])
	}
	out, _, err = cli(aliceTok, "workspaces", "get", "alice", "-o", "json")
	var w struct {
		Name, User, Profile, State string
		Created                    *time.Time
	}
	if err != nil || json.Unmarshal([]byte(out), &w) != nil || w.Profile != "small" || w.Created == nil || w.State != "Running" {
		t.Errorf("get -o json: %v\n%s", err, out)
	}
	environ, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(workspacePID(t, state, "alice")), "environ"))
	if err != nil || !bytes.Contains(environ, []byte("CODEHUB_TEST_PROFILE=small\x00")) {
		t.Errorf("the profile's env is not in the workspace process's environment (%v)", err)
	}

	// Delete: refused without --yes, then the directory is gone and the CLI said so.
	if _, stderr, err := cli(aliceTok, "workspaces", "delete", "alice"); err == nil || !strings.Contains(stderr, "--yes") {
		t.Errorf("delete without --yes: %v %q", err, stderr)
	}
	dir := filepath.Join(state, "workspaces", identity.WorkspaceName("alice"))
	out, stderr, err := cli(aliceTok, "workspaces", "delete", "alice", "--yes")
	if err != nil || !strings.Contains(out, "deleted") || !strings.Contains(out, dir) {
		t.Fatalf("delete: %v\n%s%s", err, out, stderr)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("workspace dir after delete: %v", err)
	}
	if _, stderr, err := cli(aliceTok, "workspaces", "get", "alice"); err == nil || !strings.Contains(stderr, "HTTP 404") {
		t.Errorf("get after delete: %v %q", err, stderr)
	}
}
