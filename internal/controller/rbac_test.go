package controller_test

import (
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/testkit/kubetest"
	"github.com/codehub-dev/codehub/internal/workspacebuild"
)

// TestTwoUsersCannotReadEachOther: users differing only in case get distinct objects, and
// each workspace's ServiceAccount can read its own Workspace but not the other's.
func TestTwoUsersCannotReadEachOther(t *testing.T) {
	ctx, c, ns := kubetest.Setup(t)
	r := newReconciler(c)
	a := kubetest.Workspace("Alice", kubetest.InNamespace(ns), kubetest.With(func(ws *codehubv1.Workspace) {
		ws.Spec.ServiceAccount.ExtraRules = []rbacv1.PolicyRule{{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"create"}}}
	}))
	b := kubetest.Workspace("alice", kubetest.InNamespace(ns))
	for _, ws := range []*codehubv1.Workspace{a, b} {
		if err := c.Create(ctx, ws); err != nil {
			t.Fatal(err)
		}
		reconcile(t, r, ws)
	}
	if a.Name == b.Name || workspacebuild.Base(a) == workspacebuild.Base(b) {
		t.Fatalf("Alice and alice share names: %s %s", a.Name, workspacebuild.Base(a))
	}

	cs := kubernetes.NewForConfigOrDie(kubetest.Config(t))
	can := func(ws *codehubv1.Workspace, attr authorizationv1.ResourceAttributes) bool {
		t.Helper()
		attr.Namespace = ns
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:               "system:serviceaccount:" + ns + ":" + workspacebuild.Base(ws),
			Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
			ResourceAttributes: &attr,
		}}
		res, err := cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1CreateOptions)
		if err != nil {
			t.Fatal(err)
		}
		return res.Status.Allowed
	}
	ws := func(name, verb string) authorizationv1.ResourceAttributes {
		return authorizationv1.ResourceAttributes{Group: "codehub.io", Resource: "workspaces", Name: name, Verb: verb}
	}
	core := func(resource, name, verb string) authorizationv1.ResourceAttributes {
		return authorizationv1.ResourceAttributes{Resource: resource, Name: name, Verb: verb}
	}
	for _, tc := range []struct {
		who  *codehubv1.Workspace
		attr authorizationv1.ResourceAttributes
		want bool
	}{
		{a, ws(a.Name, "get"), true},
		{a, ws(b.Name, "get"), false},
		{b, ws(b.Name, "get"), true},
		{b, ws(a.Name, "get"), false},
		{a, ws("", "list"), false},
		{a, ws(a.Name, "update"), false},
		{a, core("pods", "", "list"), true}, // the platform's Jupyter role
		{a, core("secrets", "", "list"), false},
		{a, core("secrets", workspacebuild.Base(b), "get"), false},
		{a, authorizationv1.ResourceAttributes{Group: "rbac.authorization.k8s.io", Resource: "roles", Name: workspacebuild.Base(b), Verb: "get"}, false},
		{a, authorizationv1.ResourceAttributes{Group: "apps", Resource: "deployments", Name: workspacebuild.Base(b), Verb: "get"}, false},
		{a, core("pods", "", "delete"), false},
		{a, authorizationv1.ResourceAttributes{Group: "batch", Resource: "jobs", Verb: "create"}, true}, // extra rule
		{b, authorizationv1.ResourceAttributes{Group: "batch", Resource: "jobs", Verb: "create"}, false},
	} {
		if got := can(tc.who, tc.attr); got != tc.want {
			t.Errorf("%s may %s %s/%s %q = %v, want %v", tc.who.Spec.User, tc.attr.Verb, tc.attr.Group, tc.attr.Resource, tc.attr.Name, got, tc.want)
		}
	}

	// The same with a real token of Alice's ServiceAccount, as codehub-init would use it.
	tok, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, workspacebuild.Base(a), &authenticationv1.TokenRequest{}, metav1CreateOptions)
	if err != nil {
		t.Fatal(err)
	}
	cfg := kubetest.Config(t)
	cfg.TLSClientConfig = rest.TLSClientConfig{CAData: cfg.CAData}
	cfg.BearerToken = tok.Status.Token
	asAlice, err := client.New(cfg, client.Options{Scheme: kubetest.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	if err := asAlice.Get(ctx, client.ObjectKeyFromObject(a), &codehubv1.Workspace{}); err != nil {
		t.Fatalf("alice's token reading her workspace: %v", err)
	}
	if err := asAlice.Get(ctx, client.ObjectKeyFromObject(b), &codehubv1.Workspace{}); !apierrors.IsForbidden(err) {
		t.Fatalf("alice's token reading the other workspace: err=%v, want Forbidden", err)
	}
}
