package controller_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/testkit/kubetest"
)

// TestCRDValidation: the apiserver itself enforces what the CRD's CEL rules promise.
func TestCRDValidation(t *testing.T) {
	ctx, c, ns := kubetest.Setup(t)

	ws := kubetest.Workspace("erin", kubetest.InNamespace(ns))
	if err := c.Create(ctx, ws); err != nil {
		t.Fatal(err)
	}
	ws.Spec.User = "mallory"
	if err := c.Update(ctx, ws); err == nil || !strings.Contains(err.Error(), "user is immutable") {
		t.Fatalf("changing spec.user: %v, want refused as immutable", err)
	}

	for name, mutate := range map[string]func(*codehubv1.Workspace){
		"two home sources": func(ws *codehubv1.Workspace) {
			ws.Spec.Home = codehubv1.HomeSpec{ExistingClaim: "x", PVC: &codehubv1.HomePVC{}}
		},
		"mount without source": func(ws *codehubv1.Workspace) {
			ws.Spec.Mounts = []codehubv1.Mount{{Name: "empty"}}
		},
		"mount with two sources": func(ws *codehubv1.Workspace) {
			ws.Spec.Mounts = []codehubv1.Mount{{Name: "both", CSI: &corev1.CSIVolumeSource{Driver: "d"},
				V3IO: &codehubv1.V3IOVolume{SecretRef: corev1.LocalObjectReference{Name: "s"}}}}
		},
		"empty user": func(ws *codehubv1.Workspace) { ws.Spec.User = "" },
	} {
		bad := kubetest.Workspace("invalid-"+strings.ReplaceAll(name, " ", "-"), kubetest.InNamespace(ns), kubetest.With(mutate))
		if err := c.Create(ctx, bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestCRDHasNoExposureFields: spec.ingress and spec.nodePort (routes to code-server that
// bypass the gateway) are gone from the API: strict field validation (kubectl's default)
// refuses them, and a lax client's copy is pruned, so nothing stored can ask for them.
func TestCRDHasNoExposureFields(t *testing.T) {
	ctx, c, ns := kubetest.Setup(t)
	legacy := func(name string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "codehub.io/v1alpha1", "kind": "Workspace",
			"metadata": map[string]any{"name": name, "namespace": ns},
			"spec": map[string]any{"user": name, "running": true,
				"ingress":  map[string]any{"host": "vscode-" + name + ".example.com"},
				"nodePort": map[string]any{"port": int64(30073)}},
		}}
	}
	err := c.Create(ctx, legacy("strict"), client.FieldValidation("Strict"))
	if err == nil || !strings.Contains(err.Error(), `unknown field "spec.ingress"`) || !strings.Contains(err.Error(), `unknown field "spec.nodePort"`) {
		t.Fatalf("strict create with spec.ingress/nodePort: %v, want both named as unknown fields", err)
	}
	lax := legacy("lax")
	if err := c.Create(ctx, lax, client.FieldValidation("Ignore")); err != nil {
		t.Fatal(err)
	}
	stored := &unstructured.Unstructured{}
	stored.SetGroupVersionKind(lax.GroupVersionKind())
	if err := c.Get(ctx, client.ObjectKeyFromObject(lax), stored); err != nil {
		t.Fatal(err)
	}
	spec, _, _ := unstructured.NestedMap(stored.Object, "spec")
	if _, ok := spec["ingress"]; ok {
		t.Errorf("spec.ingress was stored: %v", spec)
	}
	if _, ok := spec["nodePort"]; ok {
		t.Errorf("spec.nodePort was stored: %v", spec)
	}
}
