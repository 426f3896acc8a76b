package controller_test

import (
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/controller/ctrltest"
	"github.com/codehub-dev/codehub/internal/testkit/kubetest"
	"github.com/codehub-dev/codehub/internal/workspacebuild"
)

// TestOperatorRestartConverges stops the operator part-way through a batch of Workspaces and
// starts a new one: every Workspace ends up with exactly one of each object.
func TestOperatorRestartConverges(t *testing.T) {
	ctx, c, ns := kubetest.Setup(t)
	const n = 12
	stop := ctrltest.RunManager(t, ns)
	var all []*codehubv1.Workspace
	for i := range n {
		ws := kubetest.Workspace(fmt.Sprintf("user%02d", i), kubetest.InNamespace(ns))
		if err := c.Create(ctx, ws); err != nil {
			t.Fatal(err)
		}
		all = append(all, ws)
	}
	kubetest.Eventually(t, "first operator made some deployments", func() error {
		deps := &appsv1.DeploymentList{}
		if err := c.List(ctx, deps, client.InNamespace(ns)); err != nil {
			return err
		}
		if len(deps.Items) == 0 {
			return fmt.Errorf("none yet")
		}
		return nil
	})
	stop()
	before := &appsv1.DeploymentList{}
	if err := c.List(ctx, before, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	t.Logf("first operator stopped after %d of %d deployments", len(before.Items), n)
	ctrltest.RunManager(t, ns)

	for _, ws := range all {
		waitPhase(t, c, ws, codehubv1.PhaseStarting)
	}
	counts := map[string]int{}
	for _, list := range []client.ObjectList{
		&appsv1.DeploymentList{}, &corev1.ServiceList{}, &corev1.ServiceAccountList{}, &corev1.ConfigMapList{},
		&corev1.PersistentVolumeClaimList{}, &rbacv1.RoleList{}, &rbacv1.RoleBindingList{}, &networkingv1.NetworkPolicyList{},
	} {
		if err := c.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{workspacebuild.LabelManagedBy: workspacebuild.FieldOwner}); err != nil {
			t.Fatal(err)
		}
		kind := fmt.Sprintf("%T", list)
		counts[kind] = len(listItems(list))
		if counts[kind] != n {
			t.Errorf("%s: %d objects for %d workspaces", kind, counts[kind], n)
		}
	}
	t.Logf("objects per kind after restart: %v", counts)
}

func listItems(list client.ObjectList) []any {
	switch l := list.(type) {
	case *appsv1.DeploymentList:
		return anySlice(l.Items)
	case *corev1.ServiceList:
		return anySlice(l.Items)
	case *corev1.ServiceAccountList:
		return anySlice(l.Items)
	case *corev1.ConfigMapList:
		return anySlice(l.Items)
	case *corev1.PersistentVolumeClaimList:
		return anySlice(l.Items)
	case *rbacv1.RoleList:
		return anySlice(l.Items)
	case *rbacv1.RoleBindingList:
		return anySlice(l.Items)
	case *networkingv1.NetworkPolicyList:
		return anySlice(l.Items)
	}
	panic(fmt.Sprintf("unhandled %T", list))
}

func anySlice[T any](items []T) []any {
	out := make([]any, len(items))
	for i := range items {
		out[i] = items[i]
	}
	return out
}
