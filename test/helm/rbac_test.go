package helm

import (
	"context"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// checkRBAC asks the apiserver (SubjectAccessReview) what the chart's ServiceAccounts may do:
// exactly what their components need, in the release namespace only.
func (cl *cluster) checkRBAC(t *testing.T, ctx context.Context) {
	t.Helper()
	gateway := "system:serviceaccount:" + namespace + ":" + release + "-codehub-gateway"
	operator := "system:serviceaccount:" + namespace + ":" + release + "-codehub-operator"
	cases := []struct {
		user, verb, group, resource, sub, ns string
		want                                 bool
	}{
		{gateway, "create", "codehub.io", "workspaces", "", namespace, true},
		{gateway, "patch", "codehub.io", "workspaces", "status", namespace, true},
		{gateway, "watch", "codehub.io", "workspaces", "", namespace, true},
		{gateway, "delete", "codehub.io", "workspaces", "", namespace, true},    // codehub workspaces delete
		{gateway, "delete", "", "persistentvolumeclaims", "", namespace, false}, // a retained home outlives it
		{gateway, "create", "codehub.io", "workspaces", "", "other", false},
		{gateway, "get", "", "secrets", "", namespace, true}, // the workspaces' credentials
		{gateway, "list", "", "secrets", "", namespace, false},
		{gateway, "watch", "", "secrets", "", namespace, false},
		{gateway, "update", "", "secrets", "", namespace, false},
		{gateway, "get", "", "secrets", "", "other", false},
		{gateway, "get", "", "pods", "", namespace, false},
		{operator, "create", "apps", "deployments", "", namespace, true},
		{operator, "create", "", "persistentvolumeclaims", "", namespace, true},
		{operator, "update", "codehub.io", "workspaces", "status", namespace, true},
		{operator, "create", "coordination.k8s.io", "leases", "", namespace, true},
		{operator, "create", "codehub.io", "workspaces", "", namespace, false},
		{operator, "create", "apps", "deployments", "", "other", false},
		{operator, "create", "", "secrets", "", namespace, true}, // the workspaces' credentials
		{operator, "get", "", "secrets", "", namespace, true},
		{operator, "delete", "", "secrets", "", namespace, false},
		{operator, "patch", "", "secrets", "", namespace, false},
		{operator, "get", "", "secrets", "", "other", false},
		{operator, "list", "codehub.io", "workspaces", "", "", false},
	}
	for _, c := range cases {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   c.user,
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: c.ns, Verb: c.verb, Group: c.group, Resource: c.resource, Subresource: c.sub,
			},
		}}
		if err := cl.c.Create(ctx, sar); err != nil {
			t.Fatal(err)
		}
		if sar.Status.Allowed != c.want {
			t.Errorf("%s %s %s/%s %s in %q: allowed=%v, want %v", c.user[len("system:serviceaccount:"):], c.verb, c.group, c.resource, c.sub, c.ns, sar.Status.Allowed, c.want)
		}
	}
}

// helmTest runs `helm test`: its hook pod is created in the restricted namespace; with no
// kubelet here, the test plays the kubelet and reports the pod Succeeded, then helm must
// report the suite passed and delete the pod (hook-succeeded).
func (cl *cluster) helmTest(t *testing.T, ctx context.Context, h *helmCmd) {
	t.Helper()
	type result struct {
		out, errOut string
		err         error
	}
	done := make(chan result, 1)
	go func() {
		out, errOut, err := h.run("test", release, "-n", namespace, "--timeout", "2m")
		done <- result{out, errOut, err}
	}()
	name := release + "-codehub-test-healthz"
	pod := &corev1.Pod{}
	eventually(t, "helm test pod created", time.Minute, func() error {
		return cl.c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, pod)
	})
	if c := pod.Spec.Containers[0]; !strings.Contains(strings.Join(c.Command, " "), "/_codehub/healthz") {
		t.Errorf("helm test pod does not check /_codehub/healthz: %v", c.Command)
	}
	pod.Status.Phase = corev1.PodSucceeded
	if err := cl.c.Status().Update(ctx, pod); err != nil {
		t.Fatalf("marking the helm test pod Succeeded: %v", err)
	}
	r := <-done
	if r.err != nil || !strings.Contains(r.out, "Phase:          Succeeded") {
		t.Fatalf("helm test: %v\n%s%s", r.err, r.out, r.errOut)
	}
	eventually(t, "helm test pod deleted (hook-succeeded)", time.Minute, func() error {
		err := cl.c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &corev1.Pod{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return errStillThere
	})
}
