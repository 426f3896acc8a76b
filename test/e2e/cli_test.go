package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestCLIWithPersonalToken mints a token through the browser session API, then drives
// the gateway with `codehub workspaces` and that token: start, list, stop, and a revoked
// token is refused.
func TestCLIWithPersonalToken(t *testing.T) {
	state := stateWithUsers(t, "alice", "bob")
	g := startGateway(t, state, "--idle-timeout", "0")
	alice := g.signIn(t, "alice")

	req, _ := http.NewRequest("POST", g.URL+"/_codehub/api/v1/tokens", strings.NewReader(`{"name":"laptop"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", g.URL)
	resp, err := alice.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var tok struct{ ID, Token string }
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &tok) != nil || tok.Token == "" {
		t.Fatalf("create token: %d %s", resp.StatusCode, body)
	}
	if strings.Contains(g.Stderr.String(), tok.Token) {
		t.Fatal("the token was logged")
	}

	cli := func(token string, args ...string) (string, error) {
		cmd := exec.Command(codehubBinary(t), append([]string{"workspaces", "--server", g.URL}, args...)...)
		cmd.Env = append(os.Environ(), "CODEHUB_TOKEN="+token)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String() + errb.String(), err
	}
	if out, err := cli(tok.Token, "start", "alice"); err != nil || !strings.Contains(out, "alice") {
		t.Fatalf("start: %v\n%s", err, out)
	}
	eventually(t, 2*time.Minute, "alice's workspace running", func() bool {
		out, err := cli(tok.Token, "list")
		return err == nil && strings.Contains(out, "Running")
	})
	if out, err := cli(tok.Token, "stop", "bob"); err == nil || !strings.Contains(out, "only admins") {
		t.Fatalf("alice stopping bob: %v\n%s", err, out)
	}
	if out, err := cli(tok.Token, "stop", "alice"); err != nil || !strings.Contains(out, "Stopped") {
		t.Fatalf("stop: %v\n%s", err, out)
	}

	del, _ := http.NewRequest("DELETE", g.URL+"/_codehub/api/v1/tokens/"+tok.ID, nil)
	del.Header.Set("Content-Type", "application/json")
	if resp, err := alice.Do(del); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke: %v %v", err, resp)
	}
	if out, err := cli(tok.Token, "list"); err == nil || !strings.Contains(out, "not signed in") {
		t.Fatalf("revoked token: %v\n%s", err, out)
	}
}
