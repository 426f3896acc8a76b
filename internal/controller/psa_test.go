package controller_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/testkit/kubetest"
)

var metav1CreateOptions = metav1.CreateOptions{}

// TestPodTemplatePassesRestrictedPSA submits the reconciled Deployment's pod template as a
// Pod (server-side dry-run) to a namespace enforcing the restricted Pod Security Standard.
// The v3io form needs a flexVolume, which restricted forbids: that one must be refused.
func TestPodTemplatePassesRestrictedPSA(t *testing.T) {
	ctx := context.Background()
	c := kubetest.Client(t)
	ns := kubetest.Namespace(t, c, map[string]string{"pod-security.kubernetes.io/enforce": "restricted"})
	r := newReconciler(c)
	v3io := &codehubv1.V3IOVolume{SecretRef: corev1.LocalObjectReference{Name: "v3io-key"}}
	for _, tc := range []struct {
		user    string
		mutate  func(*codehubv1.Workspace)
		allowed bool
	}{
		{"plain", nil, true},
		{"csi", func(ws *codehubv1.Workspace) {
			ws.Spec.Mounts = []codehubv1.Mount{{Name: "data", MountPath: "/data", CSI: &corev1.CSIVolumeSource{Driver: "nfs.csi.k8s.io"}}}
		}, true},
		{"fuse", func(ws *codehubv1.Workspace) { ws.Spec.Mounts = []codehubv1.Mount{{Name: "v3io", V3IO: v3io}} }, false},
	} {
		ws := kubetest.Workspace(tc.user, kubetest.InNamespace(ns), kubetest.With(tc.mutate))
		createReconciled(t, c, r, ws)
		dep := deployment(t, c, ws)
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: dep.Name + "-dryrun", Labels: dep.Spec.Template.Labels},
			Spec:       dep.Spec.Template.Spec,
		}
		err := c.Create(ctx, pod, client.DryRunAll)
		switch {
		case tc.allowed && err != nil:
			t.Errorf("%s: restricted namespace refused the workspace pod: %v", tc.user, err)
		case !tc.allowed && (err == nil || !strings.Contains(err.Error(), "restricted")):
			t.Errorf("%s: want a restricted-PSA refusal, got %v", tc.user, err)
		}
	}
}
