package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/testkit"
)

// TestWorkspaceOriginsRunAsOwner: with per-workspace origins (TLS, wildcard host) the
// handoff to the workspace host carries the whole identity, so a visit there starts the
// workspace as its owner's uid — also when an admin's visit wakes someone else's.
func TestWorkspaceOriginsRunAsOwner(t *testing.T) {
	state := stateWithUsers(t, "alice")
	addUser(t, state, "admin", "admin-password", true)
	o := startOriginsGateway(t, state)
	base, client, signIn := o.base, o.client, o.signIn
	openWorkbench := func(c *http.Client, path string) {
		t.Helper()
		eventually(t, 3*time.Minute, "the workbench on the workspace host", func() bool {
			resp, body := o.visit(c, "https://"+base+path)
			if resp.StatusCode == http.StatusForbidden {
				t.Fatalf("refused: %s", body)
			}
			return resp.StatusCode == 200 && strings.Contains(body, "vscode-workbench-web-configuration") &&
				strings.HasPrefix(resp.Request.URL.Host, identity.WorkspaceName("alice")+".")
		})
	}
	alice := signIn("alice")
	openWorkbench(alice, "/")
	uid := uidOf(t, state, "alice")
	if uid < 200000 {
		t.Fatalf("alice's workspace via her workspace host runs as uid %d, want her allocated uid", uid)
	}
	// Stopped, then woken by an admin's visit to alice's host: still alice's uid.
	adminToken := mintTokenWith(t, signIn("admin"), "https://"+base)
	req, _ := http.NewRequest("POST", "https://"+base+"/_codehub/api/v1/workspaces/alice/stop", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if resp, err := client().Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("admin stops alice's workspace: %v %v", resp, err)
	}
	eventually(t, time.Minute, "alice's workspace to stop", func() bool { return workspacePID(t, state, "alice") == 0 || !alive(workspacePID(t, state, "alice")) })
	openWorkbench(signIn("admin"), "/_codehub/open?workspace="+identity.WorkspaceName("alice"))
	if got := uidOf(t, state, "alice"); got != uid {
		t.Fatalf("woken by the admin, alice's workspace runs as uid %d, want %d", got, uid)
	}
}

func mintTokenWith(t *testing.T, c *http.Client, origin string) string {
	t.Helper()
	b := &browser{Client: c, base: origin}
	return mintToken(t, b, "ops")
}

// selfSigned writes a certificate for names and its key; returns their paths.
func selfSigned(t *testing.T, names ...string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

// TestGatewayWithoutRootServesOnePerson runs the gateway as an ordinary unix user, as
// `make run` does for a developer: the first user works, a second one is refused with a
// reason that says how to serve more, and --shared-unix-user lets a trusted team in.
func TestGatewayWithoutRootServesOnePerson(t *testing.T) {
	const uid = 65020
	dir := testkit.TraversableTempDir(t)
	// What an ordinary user would have: her own copies of the binaries and of code-server.
	bin := filepath.Join(dir, "bin")
	os.MkdirAll(bin, 0o755)
	for _, name := range []string{"codehub", "codehub-init"} {
		if out, err := exec.Command("cp", filepath.Join(filepath.Dir(codehubBinary(t)), name), bin).CombinedOutput(); err != nil {
			t.Fatalf("cp %s: %v %s", name, err, out)
		}
	}
	csTree := filepath.Dir(testkit.CodeServer(t))
	if out, err := exec.Command("cp", "-al", csTree, filepath.Join(dir, "code-server")).CombinedOutput(); err != nil {
		t.Fatalf("cp -al code-server: %v %s", err, out)
	}
	// Directories are the copy's own (files are shared links): make them hers to enter.
	if out, err := exec.Command("find", filepath.Join(dir, "code-server"), "-type", "d", "-exec", "chmod", "755", "{}", "+").CombinedOutput(); err != nil {
		t.Fatalf("chmod: %v %s", err, out)
	}
	state := filepath.Join(dir, "state")
	os.MkdirAll(state, 0o700)
	addUser(t, state, "alice", "alice-password", false)
	addUser(t, state, "bob", "bob-password", false)
	if out, err := exec.Command("chown", "-R", fmt.Sprintf("%d:%d", uid, uid), state).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	cred := &syscall.Credential{Uid: uid, Gid: uid, NoSetGroups: true}
	opts := gatewayOptions{stateDir: state, binary: filepath.Join(bin, "codehub"), cred: cred,
		codeServer: filepath.Join(dir, "code-server", filepath.Base(testkit.CodeServer(t)))}
	g := startGatewayWith(t, opts, "--idle-timeout", "0")

	alice := g.signIn(t, "alice")
	alice.openWorkbench(t)
	if ids := processIDs(t, workspacePID(t, state, "alice")); ids != fmt.Sprintf("%d:%d", uid, uid) {
		t.Fatalf("alice's workspace runs as %s, want the gateway's own user %d", ids, uid)
	}
	bob := g.signIn(t, "bob")
	resp, body := bob.navigate(t, "/")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "already serves") || !strings.Contains(body, "--shared-unix-user") {
		t.Fatalf("a second user on a one-person gateway: %d %s", resp.StatusCode, body)
	}
	if workspacePID(t, state, "bob") != 0 {
		t.Fatal("a process was started for bob")
	}
	if err := g.Stop(t); err != nil {
		t.Fatalf("stop: %v", err)
	}
	g = startGatewayWith(t, opts, "--idle-timeout", "0", "--shared-unix-user")
	bob = newBrowser(t, g.URL)
	bob.login(t, "bob", "bob-password")
	bob.openWorkbench(t)
}
