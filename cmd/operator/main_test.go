package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/codehub-dev/codehub/internal/testkit"
	"github.com/codehub-dev/codehub/internal/testkit/kubetest"
	"github.com/codehub-dev/codehub/internal/workspacebuild"
)

func TestMain(m *testing.M) { kubetest.Main(m) }

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestOperatorBinary runs the built operator as a deployment would (leader election,
// metrics, JSON logs) against the real apiserver and sees it reconcile a Workspace.
func TestOperatorBinary(t *testing.T) {
	ctx := context.Background()
	bin := filepath.Join(t.TempDir(), "operator")
	testkit.GoBuild(t, bin, "./cmd/operator")
	c := kubetest.Client(t)
	ns := kubetest.Namespace(t, c, nil)
	metrics, probes := freeAddr(t), freeAddr(t)
	// A host that is not one is refused before the operator starts.
	if out, err := exec.Command(bin, "--workspace-origins", "https://vscode.example.com/").CombinedOutput(); err == nil || !strings.Contains(string(out), "-workspace-origins") {
		t.Fatalf("--workspace-origins with a URL: err=%v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--leader-elect", "--leader-election-namespace", ns, "--watch-namespaces", ns,
		"--metrics-bind-address", metrics, "--health-probe-bind-address", probes, "--workspace-origins", "VSCode.Example.com")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubetest.Kubeconfig(t))
	logs := &testkit.Buffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := <-exited; err != nil {
			t.Errorf("operator exit after SIGTERM: %v\n%s", err, logs.String())
		}
	})

	ws := kubetest.Workspace("frank", kubetest.InNamespace(ns))
	if err := c.Create(ctx, ws); err != nil {
		t.Fatal(err)
	}
	dep := &appsv1.Deployment{}
	kubetest.Eventually(t, "operator binary reconciles", func() error {
		select {
		case err := <-exited:
			t.Fatalf("operator exited: %v\n%s", err, logs.String())
		default:
		}
		return c.Get(ctx, client.ObjectKey{Namespace: ns, Name: workspacebuild.Base(ws)}, dep)
	})
	var proxyURI []string
	for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
		if e.Name == "VSCODE_PROXY_URI" {
			proxyURI = append(proxyURI, e.Value)
		}
	}
	if want := "//p{{port}}--" + ws.Name + ".vscode.example.com/"; len(proxyURI) != 1 || proxyURI[0] != want {
		t.Errorf("--workspace-origins: VSCODE_PROXY_URI = %q, want [%q]", proxyURI, want)
	}
	get := func(url string) (string, error) {
		resp, err := http.Get(url)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("%s: %d", url, resp.StatusCode)
		}
		return string(b), nil
	}
	kubetest.Eventually(t, "metrics count reconciles", func() error {
		body, err := get("http://" + metrics + "/metrics")
		if err != nil {
			return err
		}
		if !strings.Contains(body, `controller_runtime_reconcile_total{controller="workspace"`) {
			return fmt.Errorf("no workspace reconcile metric yet")
		}
		return nil
	})
	if _, err := get("http://" + probes + "/readyz"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `"msg":"starting"`) {
		t.Fatalf("operator logs are not slog JSON:\n%s", logs.String())
	}
}
