package controller_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/controller/ctrltest"
	"github.com/codehub-dev/codehub/internal/testkit/kubetest"
	"github.com/codehub-dev/codehub/internal/workspacebuild"
)

// credentialOf reads the Workspace's credential Secret and checks its shape: 64 hex
// characters, controlled by ws.
func credentialOf(t *testing.T, c client.Client, ws *codehubv1.Workspace) string {
	t.Helper()
	sec := &corev1.Secret{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ws.Namespace, Name: workspacebuild.CredentialSecretName(ws)}, sec); err != nil {
		t.Fatalf("credential Secret: %v", err)
	}
	v := string(sec.Data[workspacebuild.CredentialKey])
	if len(v) != 64 || strings.Trim(v, "0123456789abcdef") != "" {
		t.Fatalf("credential %q is not 64 hex characters", v)
	}
	if owner := metav1.GetControllerOf(sec); owner == nil || owner.UID != ws.UID || owner.Kind != "Workspace" || owner.Name != ws.Name {
		t.Fatalf("credential Secret controller = %+v, want Workspace %s (%s)", owner, ws.Name, ws.UID)
	}
	if sec.Labels[workspacebuild.LabelManagedBy] != workspacebuild.FieldOwner {
		t.Fatalf("credential Secret labels %v lack managed-by (the operator's cache would not see it)", sec.Labels)
	}
	return v
}

func deploymentOf(t *testing.T, c client.Client, ws *codehubv1.Workspace) *appsv1.Deployment {
	t.Helper()
	dep := &appsv1.Deployment{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ws.Namespace, Name: workspacebuild.Base(ws)}, dep); err != nil {
		t.Fatal(err)
	}
	return dep
}

// TestCredentialSecretLifecycle: the first pass creates the Secret (64 random hex
// characters, owned by the Workspace) and the pod references it; a second pass writes
// nothing and keeps the value; the value appears in no other object; a deleted and
// re-created Workspace gets a new value (and a new pod template), never the old one.
func TestCredentialSecretLifecycle(t *testing.T) {
	ctx, c, ns := kubetest.Setup(t)
	cc, writes := countingClient(t)
	r := newReconciler(cc)

	ws := kubetest.Workspace("grace", kubetest.InNamespace(ns))
	createReconciled(t, c, r, ws)
	if got := writes.take(); len(got) == 0 || !contains(got, "create "+workspacebuild.CredentialSecretName(ws)) {
		t.Fatalf("first pass writes %v: want the Secret created", got)
	}
	first := credentialOf(t, c, ws)

	dep := deploymentOf(t, c, ws)
	var ref *corev1.SecretKeySelector
	for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
		if e.Name == "HASHED_PASSWORD" {
			if e.Value != "" || e.ValueFrom == nil {
				t.Fatalf("HASHED_PASSWORD is not a secretKeyRef: %+v", e)
			}
			ref = e.ValueFrom.SecretKeyRef
		}
	}
	if ref == nil || ref.Name != workspacebuild.CredentialSecretName(ws) || ref.Key != workspacebuild.CredentialKey {
		t.Fatalf("Deployment env HASHED_PASSWORD = %+v, want secretKeyRef %s/%s", ref, workspacebuild.CredentialSecretName(ws), workspacebuild.CredentialKey)
	}
	hash1 := dep.Spec.Template.Annotations[workspacebuild.AnnotationCredentialHash]

	// Nothing but the Secret holds the value: not the ConfigMap, Deployment or Workspace.
	cm := &corev1.ConfigMap{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: workspacebuild.Base(ws)}, cm); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cm.Data["init.json"], `"auth": "password"`) {
		t.Errorf("init.json does not make codehub-init start code-server with --auth password:\n%s", cm.Data["init.json"])
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(ws), ws); err != nil {
		t.Fatal(err)
	}
	for _, obj := range []client.Object{cm, dep, ws} {
		if b, _ := yaml.Marshal(obj); strings.Contains(string(b), first) {
			t.Errorf("%T %s contains the credential", obj, obj.GetName())
		}
	}

	for range 2 {
		reconcile(t, r, ws)
		if got := writes.take(); len(got) != 0 {
			t.Fatalf("converged pass made writes %v, want none", got)
		}
	}
	if again := credentialOf(t, c, ws); again != first {
		t.Fatal("a converged pass changed the credential")
	}

	// Delete and re-create: envtest runs no garbage collector, so the old Secret (owned by
	// the deleted Workspace) is still there, as it is while a real GC lags behind.
	if err := c.Delete(ctx, ws); err != nil {
		t.Fatal(err)
	}
	kubetest.Eventually(t, "workspace gone", func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(ws), &codehubv1.Workspace{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("get: %v", err)
		}
		return nil
	})
	again := kubetest.Workspace("grace", kubetest.InNamespace(ns))
	if err := c.Create(ctx, again); err != nil {
		t.Fatal(err)
	}
	reconcile(t, r, again)
	writes.take()
	rotated := credentialOf(t, c, again)
	if rotated == first {
		t.Fatal("the re-created Workspace inherited the deleted one's credential")
	}
	if h := deploymentOf(t, c, again).Spec.Template.Annotations[workspacebuild.AnnotationCredentialHash]; h == "" || h == hash1 {
		t.Fatalf("pod template credential hash %q after rotation (was %q): the pod would keep the old credential", h, hash1)
	}
	reconcile(t, r, again)
	if got := writes.take(); len(got) != 0 {
		t.Fatalf("pass after rotation made writes %v, want none", got)
	}
	if credentialOf(t, c, again) != rotated {
		t.Fatal("the rotated credential changed again")
	}
}

// TestCredentialSecretRestoredByWatch: with the real manager (Owns Secrets), a deleted
// Secret comes back with a new value, and the pod template follows it.
func TestCredentialSecretRestoredByWatch(t *testing.T) {
	ctx, c, ns := kubetest.Setup(t)
	ctrltest.RunManager(t, ns)
	ws := kubetest.Workspace("heidi", kubetest.InNamespace(ns))
	if err := c.Create(ctx, ws); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKey{Namespace: ns, Name: workspacebuild.CredentialSecretName(ws)}
	sec := &corev1.Secret{}
	kubetest.Eventually(t, "credential Secret created", func() error { return c.Get(ctx, key, sec) })
	old := string(sec.Data[workspacebuild.CredentialKey])
	var hash string
	kubetest.Eventually(t, "deployment created", func() error {
		dep := &appsv1.Deployment{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: workspacebuild.Base(ws)}, dep); err != nil {
			return err
		}
		hash = dep.Spec.Template.Annotations[workspacebuild.AnnotationCredentialHash]
		return nil
	})
	if err := c.Delete(ctx, sec); err != nil {
		t.Fatal(err)
	}
	kubetest.Eventually(t, "secret back with a new value, pod template rolled", func() error {
		fresh := &corev1.Secret{}
		if err := c.Get(ctx, key, fresh); err != nil {
			return err
		}
		if v := string(fresh.Data[workspacebuild.CredentialKey]); v == old || len(v) != 64 {
			return fmt.Errorf("value unchanged or malformed (%d chars)", len(v))
		}
		dep := &appsv1.Deployment{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: workspacebuild.Base(ws)}, dep); err != nil {
			return err
		}
		if dep.Spec.Template.Annotations[workspacebuild.AnnotationCredentialHash] == hash {
			return fmt.Errorf("pod template still has the old credential hash")
		}
		return nil
	})
}

// TestNetworkPolicyAdmitsOnlyGateway: the stored policy selects the workspace pod and has
// exactly one ingress rule: port 8080 from the gateway selector, nothing else.
func TestNetworkPolicyAdmitsOnlyGateway(t *testing.T) {
	ctx, c, ns := kubetest.Setup(t)
	r := newReconciler(c)
	ws := kubetest.Workspace("ivan", kubetest.InNamespace(ns))
	createReconciled(t, c, r, ws)
	np := &networkingv1.NetworkPolicy{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: workspacebuild.Base(ws)}, np); err != nil {
		t.Fatal(err)
	}
	gateway := workspacebuild.DefaultOptions().GatewaySelector
	spec := np.Spec
	ok := len(spec.PolicyTypes) == 1 && spec.PolicyTypes[0] == networkingv1.PolicyTypeIngress &&
		len(spec.PodSelector.MatchLabels) > 0 && spec.PodSelector.MatchLabels[workspacebuild.LabelInstance] == workspacebuild.Base(ws) &&
		len(spec.Ingress) == 1 && len(spec.Ingress[0].From) == 1 && len(spec.Ingress[0].Ports) == 1
	if ok {
		from, port := spec.Ingress[0].From[0], spec.Ingress[0].Ports[0]
		ok = from.NamespaceSelector == nil && from.IPBlock == nil && from.PodSelector != nil &&
			len(from.PodSelector.MatchExpressions) == 0 && fmt.Sprint(from.PodSelector.MatchLabels) == fmt.Sprint(gateway) &&
			port.Port != nil && *port.Port == intstr.FromInt32(workspacebuild.Port)
	}
	if !ok {
		b, _ := yaml.Marshal(spec)
		t.Fatalf("NetworkPolicy must admit only %v on port %d:\n%s", gateway, workspacebuild.Port, b)
	}
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
