package controller_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/controller/ctrltest"
)

// TestCRDValidation: the apiserver itself enforces what the CRD's CEL rules promise.
func TestCRDValidation(t *testing.T) {
	ctx := context.Background()
	c := ctrltest.Client(t)
	ns := ctrltest.Namespace(t, c, nil)

	ws := newWorkspace(ns, "erin", nil)
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
		bad := newWorkspace(ns, "invalid-"+strings.ReplaceAll(name, " ", "-"), mutate)
		if err := c.Create(ctx, bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
