package kubernetes_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/agent"
	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/backend/kubernetes"
	"github.com/codehub-dev/codehub/internal/controller/ctrltest"
	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/testkit/kubetest"
	"github.com/codehub-dev/codehub/internal/workspacebuild"
)

// TestNamedWorkspaces: on a real apiserver with the operator running, a user's named
// workspace is a Workspace of its own (spec.user the owner, the name in a label) and the
// operator gives it its own home claim, Deployment and Service beside the default one's,
// whose names do not move; stop and delete touch it alone, and a Workspace under its name
// that is not it is refused.
func TestNamedWorkspaces(t *testing.T) {
	ctx, c, ns := kubetest.Setup(t)
	ctrltest.RunManager(t, ns)
	b, err := kubernetes.New(kubernetes.Config{Client: c, Namespace: ns,
		Defaults: codehubv1.WorkspaceSpec{Image: "registry.example/codehub-workspace:7"}})
	if err != nil {
		t.Fatal(err)
	}
	carol := identity.Identity{User: "carol"}
	def, ml := backend.Default("carol"), backend.Ref{User: "carol", Name: "ml"}
	if _, err := b.Start(ctx, carol, ""); err != nil {
		t.Fatal(err)
	}
	w, err := b.Start(ctx, carol, "ml")
	if err != nil || w.Name != ml.FullName() || w.Named != "ml" || w.User != "carol" {
		t.Fatalf("start carol/ml: %+v %v", w, err)
	}
	cr := &codehubv1.Workspace{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: ml.FullName()}, cr); err != nil || cr.Spec.User != "carol" || cr.Labels[workspacebuild.LabelWorkspace] != "ml" {
		t.Fatalf("carol/ml's Workspace: %+v %v", cr, err)
	}

	// Each has its own objects; the default one's are named as before named workspaces.
	for _, tt := range []struct {
		ref  backend.Ref
		base string
		env  bool // CODEHUB_WORKSPACE=ml in the pod (codehub-init's agent token names it)
	}{
		{def, "codehub-" + identity.WorkspaceName("carol"), false},
		{ml, "codehub-" + identity.NamedWorkspaceName("carol", "ml"), true},
	} {
		kubetest.Eventually(t, tt.ref.String()+"'s objects", func() error {
			pvc := &corev1.PersistentVolumeClaim{}
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: tt.base + "-home"}, pvc); err != nil {
				return err
			}
			dep := &appsv1.Deployment{}
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: tt.base}, dep); err != nil {
				return err
			}
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: tt.base}, &corev1.Service{}); err != nil {
				return err
			}
			claims := []string{}
			for _, v := range dep.Spec.Template.Spec.Volumes {
				if v.PersistentVolumeClaim != nil {
					claims = append(claims, v.PersistentVolumeClaim.ClaimName)
				}
			}
			if !slices.Equal(claims, []string{tt.base + "-home"}) {
				return fmt.Errorf("%s mounts the claims %v, want its own %s-home only", tt.base, claims, tt.base)
			}
			has := slices.ContainsFunc(dep.Spec.Template.Spec.Containers[0].Env, func(e corev1.EnvVar) bool { return e.Name == agent.EnvWorkspace && e.Value == "ml" })
			if has != tt.env {
				return fmt.Errorf("%s: %s=ml in the pod is %v, want %v", tt.base, agent.EnvWorkspace, has, tt.env)
			}
			return nil
		})
	}

	list, err := b.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var named []string
	for _, w := range list {
		named = append(named, w.User+"/"+w.Named)
	}
	slices.Sort(named)
	if strings.Join(named, ",") != "carol/,carol/ml" {
		t.Fatalf("list: %v", named)
	}

	// Stop ml: the default one keeps running.
	if err := b.Stop(ctx, ml); err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[backend.Ref]bool{def: true, ml: false} {
		got := &codehubv1.Workspace{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: ref.FullName()}, got); err != nil || got.Spec.Running != want {
			t.Fatalf("%s after stopping carol/ml: running=%v (%v), want %v", ref, got.Spec.Running, err, want)
		}
	}

	// A Workspace under a named workspace's name that is not it is never used as it.
	fake := kubetest.Workspace("carol", kubetest.InNamespace(ns), kubetest.Named(backend.Ref{User: "carol", Name: "gpu"}.FullName()))
	if err := c.Create(ctx, fake); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Start(ctx, carol, "gpu"); err == nil || !strings.Contains(err.Error(), `workspace "", not "gpu"`) {
		t.Fatalf("start carol/gpu over a Workspace without its label: %v", err)
	}
	if err := b.SetProfile(ctx, backend.Ref{User: "carol", Name: "gpu"}, "default"); err == nil {
		t.Fatal("SetProfile took over a Workspace without its label")
	}

	// Delete ml: the default one stays.
	if err := b.Delete(ctx, ml); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, ml); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("carol/ml after delete: %v", err)
	}
	if w, err := b.Get(ctx, def); err != nil || w.Named != "" {
		t.Fatalf("carol's default workspace after deleting ml: %+v %v", w, err)
	}
}
