package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/backend/kubernetes"
	"github.com/codehub-dev/codehub/internal/controller/ctrltest"
	gw "github.com/codehub-dev/codehub/internal/gateway"
	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/testkit"
	"github.com/codehub-dev/codehub/internal/testkit/kubetest"
)

// runCodeServer starts a real code-server on loopback: the "pod" of the workspace.
func runCodeServer(t *testing.T) *url.URL {
	t.Helper()
	u, _ := runCodeServerDir(t)
	return u
}

// runCodeServerDir is runCodeServer that also returns the folder it serves.
func runCodeServerDir(t *testing.T) (*url.URL, string) {
	t.Helper()
	port := freePort(t)
	dir := t.TempDir()
	cmd := exec.Command(testkit.CodeServer(t), "--bind-addr", fmt.Sprintf("127.0.0.1:%d", port), "--auth", "none",
		"--disable-telemetry", "--disable-update-check", "--disable-workspace-trust",
		"--user-data-dir", filepath.Join(dir, "data"), "--extensions-dir", filepath.Join(dir, "ext"), dir)
	cmd.Env = []string{"HOME=" + dir, "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	u := &url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", port)}
	eventually(t, 2*time.Minute, "code-server /healthz", func() bool {
		resp, err := http.Get(u.String() + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return u, dir
}

// TestKubernetesBackendThroughGateway: sign in → the gateway creates alice's Workspace →
// the operator reconciles it → the test plays kubelet (Deployment available; the
// endpoint is a real local code-server) → the workbench is proxied; the page visit reaches
// status.lastActivityTime (idle stops are the operator's: idle_kubernetes_test.go).
func TestKubernetesBackendThroughGateway(t *testing.T) {
	cs := runCodeServer(t)
	c := kubetest.Client(t)
	ns := kubetest.Namespace(t, c, nil)
	ctrltest.RunManager(t, ns)

	be := kubernetesBackend(t, kubernetes.Config{
		Namespace: ns, ActivityInterval: time.Second,
		Defaults: codehubv1.WorkspaceSpec{Image: "codehub-workspace:test"},
		Endpoint: func(*codehubv1.Workspace) (*url.URL, error) { return cs, nil },
	})
	_, srv := newGatewayState(t, "alice").serve(t, be, gw.Config{Clock: testkit.NewClock(time.Now()), ActivityFlush: time.Second})

	b := newBrowser(t, srv.URL)
	b.login(t, "alice", "alice-password")
	if resp, body := b.navigate(t, "/"); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "Starting your workspace") {
		t.Fatalf("first visit: %d", resp.StatusCode)
	}

	ctx := context.Background()
	name := identity.WorkspaceName("alice")
	ws := &codehubv1.Workspace{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, ws); err != nil {
		t.Fatalf("the gateway did not create alice's Workspace: %v", err)
	}
	if ws.Spec.User != "alice" || !ws.Spec.Running {
		t.Fatalf("Workspace spec: user %q running %v", ws.Spec.User, ws.Spec.Running)
	}
	// Play kubelet: the operator's Deployment becomes available.
	kubetest.Eventually(t, "the operator's Deployment available", func() error {
		var deps appsv1.DeploymentList
		if err := c.List(ctx, &deps, client.InNamespace(ns)); err != nil {
			return err
		}
		if len(deps.Items) != 1 {
			return fmt.Errorf("%d deployments", len(deps.Items))
		}
		if deps.Items[0].Status.AvailableReplicas == 1 {
			return nil
		}
		return kubetest.MarkAvailable(ctx, c, &deps.Items[0])
	})
	b.openWorkbench(t)

	// Activity reaches the Workspace status.
	kubetest.Eventually(t, "lastActivityTime written", func() error {
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, ws); err != nil {
			return err
		}
		if ws.Status.LastActivityTime == nil {
			return fmt.Errorf("no lastActivityTime")
		}
		return nil
	})

	resp, err := b.Get(srv.URL + "/_codehub/api/v1/workspace")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

}
