package controller_test

import (
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/testkit/kubetest"
)

// TestSecondWorkspaceForUserFails: object names derive from the user, so a second
// Workspace for the same user must not take over the first one's objects.
func TestSecondWorkspaceForUserFails(t *testing.T) {
	ctx, c, ns := kubetest.Setup(t)
	r := newReconciler(c)
	first := kubetest.Workspace("zed", kubetest.InNamespace(ns))
	second := kubetest.Workspace("zed", kubetest.InNamespace(ns))
	second.Name = "zed-again"
	for _, ws := range []*codehubv1.Workspace{first, second} {
		if err := c.Create(ctx, ws); err != nil {
			t.Fatal(err)
		}
	}
	reconcile(t, r, first)
	if _, err := r.Reconcile(ctx, reconcileRequest(second)); err == nil {
		t.Fatal("reconciling a second Workspace for the same user succeeded")
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(second), second); err != nil {
		t.Fatal(err)
	}
	if second.Status.Phase != codehubv1.PhaseFailed || !strings.Contains(second.Status.Message, first.Name) {
		t.Fatalf("second workspace status = %s %q, want Failed naming %s", second.Status.Phase, second.Status.Message, first.Name)
	}
	reconcile(t, r, first) // the first one is untouched and still reconciles cleanly
}
