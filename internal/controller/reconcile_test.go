package controller_test

import (
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/controller"
	"github.com/codehub-dev/codehub/internal/testkit/kubetest"
	"github.com/codehub-dev/codehub/internal/workspacebuild"
)

// TestReconcileCreatesEveryObjectThenWritesNothing checks each owned object against the
// builder's output as the apiserver stored it, then that a converged pass makes no writes.
func TestReconcileCreatesEveryObjectThenWritesNothing(t *testing.T) {
	ctx, c, ns := kubetest.Setup(t)
	cc, writes := countingClient(t)
	r := &controller.Reconciler{Client: cc, Options: workspacebuild.DefaultOptions()}

	ws := kubetest.Workspace("alice", kubetest.InNamespace(ns), kubetest.With(func(ws *codehubv1.Workspace) {
		ws.Spec.Conda = &codehubv1.CondaSpec{EnvsDirs: []string{"/User/.conda/envs"}}
		ws.Spec.ServiceAccount.ExtraRules = []rbacv1.PolicyRule{{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"get"}}}
	}))
	if err := c.Create(ctx, ws); err != nil {
		t.Fatal(err)
	}
	reconcile(t, r, ws)
	if got := writes.take(); len(got) == 0 {
		t.Fatal("first reconcile wrote nothing")
	}

	if err := c.Get(ctx, client.ObjectKeyFromObject(ws), ws); err != nil {
		t.Fatal(err)
	}
	want := workspacebuild.Objects(ws, workspacebuild.DefaultOptions(), credentialOf(t, c, ws))
	if len(want) != 8 {
		t.Fatalf("builder returned %d objects, want 8 (every kind)", len(want))
	}
	for _, w := range want {
		have := w.DeepCopyObject().(client.Object)
		if err := c.Get(ctx, client.ObjectKeyFromObject(w), have); err != nil {
			t.Fatalf("%T %s: %v", w, w.GetName(), err)
		}
		checkStored(t, w, have)
		owned := metav1.GetControllerOf(have) != nil
		if _, isPVC := w.(*corev1.PersistentVolumeClaim); owned == isPVC {
			t.Errorf("%T %s: controller owner ref present=%v (Retain PVCs must have none, everything else one)", w, w.GetName(), owned)
		}
	}
	if ws.Status.Phase != codehubv1.PhaseStarting || ws.Status.ObservedGeneration != ws.Generation || ws.Status.URL != "http://"+workspacebuild.Base(ws)+"."+ns+".svc:8080" {
		t.Fatalf("status after first pass = %+v", ws.Status)
	}

	reconcile(t, r, ws)
	if got := writes.take(); len(got) != 0 {
		t.Fatalf("second reconcile made %d writes, want 0: %v", len(got), got)
	}

	// The kubelet reports the pod available: one status write, then quiet again.
	dep := &appsv1.Deployment{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: workspacebuild.Base(ws)}, dep); err != nil {
		t.Fatal(err)
	}
	if err := kubetest.MarkAvailable(ctx, c, dep); err != nil {
		t.Fatal(err)
	}
	reconcile(t, r, ws)
	if got := writes.take(); !reflect.DeepEqual(got, []string{"update/status " + ws.Name}) {
		t.Fatalf("writes after the pod became available = %v, want one status update", got)
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(ws), ws); err != nil {
		t.Fatal(err)
	}
	if ws.Status.Phase != codehubv1.PhaseRunning || ws.Status.ReadyReplicas != 1 {
		t.Fatalf("status = %+v, want Running with 1 ready replica", ws.Status)
	}
	reconcile(t, r, ws)
	if got := writes.take(); len(got) != 0 {
		t.Fatalf("reconcile of a running workspace made writes: %v", got)
	}
}

// checkStored compares the fields the builder sets with what the apiserver stored (which adds
// defaults, so whole-object equality would be meaningless).
func checkStored(t *testing.T, want, have client.Object) {
	t.Helper()
	for k, v := range want.GetLabels() {
		if have.GetLabels()[k] != v {
			t.Errorf("%T %s: label %s=%q, want %q", have, have.GetName(), k, have.GetLabels()[k], v)
		}
	}
	if have.GetAnnotations()[workspacebuild.AnnotationHash] != want.GetAnnotations()[workspacebuild.AnnotationHash] {
		t.Errorf("%T %s: applied hash differs", have, have.GetName())
	}
	diff := func(field string, w, h any) {
		if !equality.Semantic.DeepEqual(w, h) {
			t.Errorf("%T %s: %s\n have %+v\n want %+v", have, have.GetName(), field, h, w)
		}
	}
	switch w := want.(type) {
	case *appsv1.Deployment:
		h := have.(*appsv1.Deployment)
		diff("replicas", w.Spec.Replicas, h.Spec.Replicas)
		diff("strategy", w.Spec.Strategy.Type, h.Spec.Strategy.Type)
		wc, hc := w.Spec.Template.Spec.Containers[0], h.Spec.Template.Spec.Containers[0]
		diff("command", wc.Command, hc.Command)
		diff("args", wc.Args, hc.Args)
		diff("image", wc.Image, hc.Image)
		diff("env", wc.Env, hc.Env)
		diff("ports", wc.Ports, hc.Ports)
		diff("mounts", wc.VolumeMounts, hc.VolumeMounts)
		diff("readiness path", wc.ReadinessProbe.HTTPGet.Path, hc.ReadinessProbe.HTTPGet.Path)
		diff("container security", wc.SecurityContext, hc.SecurityContext)
		diff("pod security", w.Spec.Template.Spec.SecurityContext, h.Spec.Template.Spec.SecurityContext)
		diff("service account", w.Spec.Template.Spec.ServiceAccountName, h.Spec.Template.Spec.ServiceAccountName)
		diff("volumes", len(w.Spec.Template.Spec.Volumes), len(h.Spec.Template.Spec.Volumes))
	case *corev1.Service:
		h := have.(*corev1.Service)
		diff("type", w.Spec.Type, h.Spec.Type)
		diff("selector", w.Spec.Selector, h.Spec.Selector)
		diff("port", w.Spec.Ports[0].Port, h.Spec.Ports[0].Port)
	case *corev1.ConfigMap:
		diff("data", w.Data, have.(*corev1.ConfigMap).Data)
	case *corev1.PersistentVolumeClaim:
		h := have.(*corev1.PersistentVolumeClaim)
		diff("resources", w.Spec.Resources, h.Spec.Resources)
		diff("access modes", w.Spec.AccessModes, h.Spec.AccessModes)
	case *rbacv1.Role:
		diff("rules", w.Rules, have.(*rbacv1.Role).Rules)
	case *rbacv1.RoleBinding:
		h := have.(*rbacv1.RoleBinding)
		diff("roleRef", w.RoleRef, h.RoleRef)
		diff("subjects", w.Subjects, h.Subjects)
	case *networkingv1.NetworkPolicy:
		diff("spec", w.Spec, have.(*networkingv1.NetworkPolicy).Spec)
	case *corev1.ServiceAccount:
	default:
		t.Errorf("unchecked kind %T", want)
	}
}
