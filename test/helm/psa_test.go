package helm

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/backend/kubernetes"
	"github.com/codehub-dev/codehub/internal/workspacebuild"
)

// TestPodSecurityRestricted: the pods of every rendered Deployment (and the helm test pod)
// are admitted by a namespace that enforces the restricted Pod Security Standard. (The v3io
// FUSE mount is in the workspace pods the operator creates, not in the chart's pods; the
// operator's own tests cover those.)
func TestPodSecurityRestricted(t *testing.T) {
	ctx := context.Background()
	cl := startCluster(t)
	h := newHelm(t)
	const ns = "psa-restricted"
	cl.restricted(t, ctx, ns)
	for _, s := range scenarios {
		manifest := h.must(t, append([]string{"template", release, chartPath, "--namespace", ns}, s.args...)...)
		pods := 0
		for _, o := range objects(t, manifest) {
			var podSpec map[string]any
			var labels map[string]string
			switch o.GetKind() {
			case "Deployment":
				podSpec, _, _ = unstructured.NestedMap(o.Object, "spec", "template", "spec")
				labels, _, _ = unstructured.NestedStringMap(o.Object, "spec", "template", "metadata", "labels")
			case "Pod":
				podSpec, _, _ = unstructured.NestedMap(o.Object, "spec")
				labels = o.GetLabels()
			default:
				continue
			}
			pod := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "v1", "kind": "Pod",
				"metadata": map[string]any{"name": o.GetName() + "-psa", "namespace": ns},
				"spec":     podSpec,
			}}
			pod.SetLabels(labels)
			if err := cl.c.Create(ctx, pod, client.DryRunAll); err != nil {
				t.Errorf("%s: pod of %s %s rejected by restricted Pod Security: %v", s.name, o.GetKind(), o.GetName(), err)
			}
			pods++
		}
		if pods < 3 {
			t.Errorf("%s: only %d pods checked (gateway, operator and the test pod expected)", s.name, pods)
		}

		// The workspace pod the operator builds from these workspace defaults: restricted
		// too, except when the v3io FUSE mount (a flexVolume) is on.
		fc, err := kubernetes.LoadFile(defaultsFile(t, find(objects(t, manifest), "ConfigMap", release+"-codehub-workspace-defaults")))
		if err != nil {
			t.Fatal(err)
		}
		ws := &codehubv1.Workspace{ObjectMeta: metav1.ObjectMeta{Name: "alice", Namespace: ns}, Spec: fc.Workspace}
		ws.Spec.User, ws.Spec.Running = "alice", true
		tmpl := workspacebuild.PodTemplate(ws, workspacebuild.DefaultOptions(), "")
		wsPod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "workspace-psa", Namespace: ns, Labels: tmpl.Labels}, Spec: tmpl.Spec}
		err = cl.c.Create(ctx, wsPod, client.DryRunAll)
		fuse := len(ws.Spec.Mounts) > 0 || ws.Spec.Home.V3IO != nil
		switch {
		case !fuse && err != nil:
			t.Errorf("%s: the workspace pod was refused by restricted Pod Security: %v", s.name, err)
		case fuse && (err == nil || !strings.Contains(err.Error(), "violates PodSecurity") || !strings.Contains(err.Error(), "flexVolume")):
			t.Errorf("%s: the v3io (FUSE) workspace pod should need more than restricted, got %v", s.name, err)
		}
	}

	// Control: the same check rejects a pod that is not restricted, so it cannot pass vacuously.
	manifest := h.must(t, "template", release, chartPath, "--namespace", ns, "--set", "securityContext.allowPrivilegeEscalation=true")
	gw := find(objects(t, manifest), "Deployment", release+"-codehub-gateway")
	podSpec, _, _ := unstructured.NestedMap(gw.Object, "spec", "template", "spec")
	pod := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "control-psa", "namespace": ns},
		"spec":     podSpec,
	}}
	err := cl.c.Create(ctx, pod, client.DryRunAll)
	if err == nil || !strings.Contains(err.Error(), "violates PodSecurity") || !strings.Contains(err.Error(), "allowPrivilegeEscalation") {
		t.Errorf("a pod with allowPrivilegeEscalation=true was not rejected by the restricted namespace: %v", err)
	}
}
