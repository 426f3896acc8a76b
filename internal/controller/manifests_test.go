package controller_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/codehub-dev/codehub/internal/testkit"
	"github.com/codehub-dev/codehub/internal/testkit/kubetest"
)

// TestKustomizeDefaultApplies runs `kubectl apply -k config/default` against the apiserver.
func TestKustomizeDefaultApplies(t *testing.T) {
	kubectl := filepath.Join(testkit.KubebuilderAssets(t), "kubectl")
	cmd := exec.Command(kubectl, "--kubeconfig", kubetest.Kubeconfig(t), "apply", "-k", filepath.Join(testkit.RepoRoot(t), "config", "default"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl apply -k config/default: %v\n%s", err, out)
	}
	c := kubetest.Client(t)
	ctx := context.Background()
	if err := c.Get(ctx, client.ObjectKey{Namespace: "codehub-system", Name: "codehub-operator"}, &appsv1.Deployment{}); err != nil {
		t.Fatalf("operator deployment: %v\n%s", err, out)
	}
	if err := c.Get(ctx, client.ObjectKey{Name: "codehub-operator"}, &rbacv1.ClusterRole{}); err != nil {
		t.Fatalf("operator cluster role: %v\n%s", err, out)
	}
}
