package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
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
	"github.com/codehub-dev/codehub/internal/workspacebuild"
)

// TestKubernetesNamedWorkspaceThroughGateway: on a real apiserver with the operator, alice
// creates a named workspace through the API; the gateway writes a Workspace of its own
// (label codehub.io/workspace), the operator builds it (the test plays kubelet; each
// Workspace's endpoint is a real code-server of its own), and /w/ml/ is served by ml's
// code-server, / by the default one's; bob's /w/ml/ reaches neither.
func TestKubernetesNamedWorkspaceThroughGateway(t *testing.T) {
	defCS, defDir := runCodeServerDir(t)
	mlCS, mlDir := runCodeServerDir(t)
	c := kubetest.Client(t)
	ns := kubetest.Namespace(t, c, nil)
	ctrltest.RunManager(t, ns)
	be := kubernetesBackend(t, kubernetes.Config{
		Namespace: ns, ActivityInterval: time.Second,
		Defaults: codehubv1.WorkspaceSpec{Image: "codehub-workspace:test"},
		Endpoint: func(ws *codehubv1.Workspace) (*url.URL, error) {
			if workspacebuild.NamedOf(ws) == "ml" {
				return mlCS, nil
			}
			return defCS, nil
		},
	})
	_, srv := newGatewayState(t, "alice", "bob").serve(t, be, gw.Config{Clock: testkit.NewClock(time.Now()), ActivityFlush: time.Second})
	login := func(user string) *browser {
		b := newBrowser(t, srv.URL)
		b.login(t, user, user+"-password")
		return b
	}
	alice, bob := login("alice"), login("bob")

	req, _ := http.NewRequest("POST", srv.URL+"/_codehub/api/v1/workspaces/alice/ml/start", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := alice.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("create alice/ml: %v %v", resp, err)
	}
	ctx := context.Background()
	ml := &codehubv1.Workspace{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: identity.NamedWorkspaceName("alice", "ml")}, ml); err != nil ||
		ml.Spec.User != "alice" || ml.Labels[workspacebuild.LabelWorkspace] != "ml" {
		t.Fatalf("alice/ml's Workspace: %+v %v", ml, err)
	}
	alice.navigate(t, "/") // the default workspace too, by a page visit
	kubetest.Eventually(t, "both Deployments available", func() error {
		var deps appsv1.DeploymentList
		if err := c.List(ctx, &deps, client.InNamespace(ns)); err != nil {
			return err
		}
		if len(deps.Items) != 2 {
			return fmt.Errorf("%d deployments", len(deps.Items))
		}
		for i := range deps.Items {
			if deps.Items[i].Status.AvailableReplicas != 1 {
				if err := kubetest.MarkAvailable(ctx, c, &deps.Items[i]); err != nil {
					return err
				}
				return fmt.Errorf("%s not available yet", deps.Items[i].Name)
			}
		}
		return nil
	})
	alice.openWorkbenchAt(t, "/w/ml/")
	if folder := alice.servedFolderAt(t, "/w/ml/"); folder != mlDir {
		t.Fatalf("/w/ml/ is served by %s, want ml's code-server (%s)", folder, mlDir)
	}
	alice.openWorkbench(t)
	if folder := alice.servedFolder(t); folder != defDir {
		t.Fatalf("/ is served by %s, want the default workspace's code-server (%s)", folder, defDir)
	}
	if resp, body := bob.navigate(t, "/w/ml/"); resp.StatusCode != http.StatusNotFound || strings.Contains(body, "vscode-workbench") {
		t.Fatalf("bob's /w/ml/: %d", resp.StatusCode)
	}
}
