package kubernetes_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/backend/kubernetes"
	"github.com/codehub-dev/codehub/internal/controller/ctrltest"
	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/profile"
	"github.com/codehub-dev/codehub/internal/testkit/kubetest"
	"github.com/codehub-dev/codehub/internal/workspacebuild"
)

func catalog(t *testing.T, gpus int64, gpuMemory string, zone string) *profile.Catalog {
	t.Helper()
	c, err := profile.New([]profile.Profile{
		{Name: "small", CPU: profile.Amount{Request: "500m", Limit: "2"}, Memory: profile.Amount{Request: "1Gi", Limit: "4Gi"}},
		{
			Name: "gpu", GPUs: gpus, Image: "registry.example/codehub-workspace-cuda:1",
			Memory:       profile.Amount{Limit: gpuMemory},
			NodeSelector: map[string]string{"nvidia.com/gpu.present": "true", "zone": zone},
			Tolerations:  []corev1.Toleration{{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
			Env:          []corev1.EnvVar{{Name: "CUDA_VISIBLE_DEVICES", Value: "0"}},
			IdleTimeout:  "30m", Extensions: []string{"ms-toolsai.jupyter"}, Groups: []string{"ml-team"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestProfileReachesThePod: the gateway's backend writes the chosen profile into the
// Workspace and the operator builds the pod template from it (resources with the GPU limit,
// node selector, tolerations, image, env); a changed definition does not touch the running
// pod but reaches the workspace at its next start; an owner who left the profile's group
// falls back to the default with a notice, and the GPU fields go away.
func TestProfileReachesThePod(t *testing.T) {
	ctx := context.Background()
	c := kubetest.Client(t)
	ns := kubetest.Namespace(t, c, nil)
	ctrltest.RunManager(t, ns)
	newBackend := func(cat *profile.Catalog) *kubernetes.Backend {
		b, err := kubernetes.New(kubernetes.Config{
			Client: c, Namespace: ns, Profiles: cat,
			Defaults: codehubv1.WorkspaceSpec{Image: "registry.example/codehub-workspace:7", Env: []corev1.EnvVar{{Name: "TEAM", Value: "research"}}},
			Endpoint: func(*codehubv1.Workspace) (*url.URL, error) { return nil, errors.New("no pods in envtest") },
		})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := newBackend(catalog(t, 1, "16Gi", "a"))
	alice := identity.Identity{User: "Alice", Groups: []string{"ml-team"}, UID: ptr.To[int64](1001), GID: ptr.To[int64](1001)}
	if err := b.SetProfile(ctx, backend.Default("Alice"), "gpu"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Start(ctx, alice, ""); err != nil {
		t.Fatal(err)
	}
	name := identity.WorkspaceName("Alice")
	template := func(what string, check func(*appsv1.Deployment) error) {
		t.Helper()
		kubetest.Eventually(t, what, func() error {
			ws := &codehubv1.Workspace{}
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, ws); err != nil {
				return err
			}
			dep := &appsv1.Deployment{}
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: workspacebuild.Base(ws)}, dep); err != nil {
				return err
			}
			if ws.Status.ObservedGeneration != ws.Generation {
				return fmt.Errorf("generation %d not observed yet", ws.Generation)
			}
			return check(dep)
		})
	}
	gpuPod := func(gpus, memory, zone string) func(*appsv1.Deployment) error {
		return func(dep *appsv1.Deployment) error {
			pod := dep.Spec.Template.Spec
			ctr := pod.Containers[0]
			var problems []string
			if q := ctr.Resources.Limits[profile.GPUResource]; q.Cmp(resource.MustParse(gpus)) != 0 {
				problems = append(problems, "gpu limit "+q.String())
			}
			if q := ctr.Resources.Requests[profile.GPUResource]; q.Cmp(resource.MustParse(gpus)) != 0 {
				problems = append(problems, "gpu request "+q.String())
			}
			if q := ctr.Resources.Limits[corev1.ResourceMemory]; q.Cmp(resource.MustParse(memory)) != 0 {
				problems = append(problems, "memory limit "+q.String())
			}
			if pod.NodeSelector["nvidia.com/gpu.present"] != "true" || pod.NodeSelector["zone"] != zone {
				problems = append(problems, fmt.Sprintf("nodeSelector %v", pod.NodeSelector))
			}
			if len(pod.Tolerations) != 1 || pod.Tolerations[0].Key != "nvidia.com/gpu" || pod.Tolerations[0].Effect != corev1.TaintEffectNoSchedule {
				problems = append(problems, fmt.Sprintf("tolerations %v", pod.Tolerations))
			}
			if ctr.Image != "registry.example/codehub-workspace-cuda:1" {
				problems = append(problems, "image "+ctr.Image)
			}
			if !hasEnv(ctr.Env, "CUDA_VISIBLE_DEVICES", "0") || !hasEnv(ctr.Env, "TEAM", "research") {
				problems = append(problems, fmt.Sprintf("env %v", ctr.Env))
			}
			if dep.Annotations[workspacebuild.AnnotationProfile] != "gpu" {
				problems = append(problems, "profile annotation "+dep.Annotations[workspacebuild.AnnotationProfile])
			}
			if len(problems) > 0 {
				return errors.New(strings.Join(problems, "; "))
			}
			return nil
		}
	}
	template("the gpu profile in the pod template", gpuPod("1", "16Gi", "a"))
	w, err := b.Get(ctx, backend.Default("Alice"))
	if err != nil || w.Profile != "gpu" || w.Created.IsZero() || w.IdleTimeout.Minutes() != 30 {
		t.Fatalf("Get: %+v, %v; want profile gpu, a creation time and the profile's 30m idle timeout", w, err)
	}
	if dep := (&appsv1.Deployment{}); c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "codehub-" + name}, dep) == nil {
		if sc := dep.Spec.Template.Spec.SecurityContext; sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != 1001 {
			t.Errorf("a workspace created by SetProfile does not run as the uid of the owner's start: %+v", sc)
		}
	} else {
		t.Errorf("no Deployment codehub-%s", name)
	}
	kubetest.Eventually(t, "a ProfileApplied event", func() error {
		list := &eventsv1.EventList{}
		if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Reason == "ProfileApplied" && e.Regarding.Name == name && strings.Contains(e.Note, `"gpu"`) {
				return nil
			}
		}
		return fmt.Errorf("%d events, none ProfileApplied for gpu", len(list.Items))
	})

	// The admin changes the gpu profile: two GPUs, more memory, another zone. The running
	// workspace's pod is left alone...
	b = newBackend(catalog(t, 2, "32Gi", "b"))
	if _, err := b.Start(ctx, alice, ""); err != nil {
		t.Fatal(err)
	}
	template("the running pod unchanged", gpuPod("1", "16Gi", "a"))
	// ...and its next start has the new definition.
	if err := b.Stop(ctx, backend.Default("Alice")); err != nil {
		t.Fatal(err)
	}
	template("stopped", func(dep *appsv1.Deployment) error {
		if *dep.Spec.Replicas != 0 {
			return fmt.Errorf("replicas %d", *dep.Spec.Replicas)
		}
		return nil
	})
	if _, err := b.Start(ctx, alice, ""); err != nil {
		t.Fatal(err)
	}
	template("the changed gpu profile in the pod template", gpuPod("2", "32Gi", "b"))

	// She leaves ml-team: her next start falls back to the default, and says so.
	if err := b.Stop(ctx, backend.Default("Alice")); err != nil {
		t.Fatal(err)
	}
	alice.Groups = []string{"users"}
	w, err = b.Start(ctx, alice, "")
	if err != nil {
		t.Fatal(err)
	}
	if w.Profile != "small" || !strings.Contains(w.Notice, `"gpu" is open to the groups ml-team only`) || !strings.Contains(w.Notice, `uses "small"`) {
		t.Errorf("start after leaving ml-team: profile %q, notice %q", w.Profile, w.Notice)
	}
	if g, err := b.Get(ctx, backend.Default("Alice")); err != nil || g.Notice != w.Notice {
		t.Errorf("Get after the fallback: notice %q, %v; want the start's %q (the progress page reloads)", g.Notice, err, w.Notice)
	}
	template("the default profile in the pod template", func(dep *appsv1.Deployment) error {
		pod := dep.Spec.Template.Spec
		ctr := pod.Containers[0]
		if _, ok := ctr.Resources.Limits[profile.GPUResource]; ok || len(pod.NodeSelector) > 0 || len(pod.Tolerations) > 0 ||
			hasEnv(ctr.Env, "CUDA_VISIBLE_DEVICES", "0") || ctr.Image != "registry.example/codehub-workspace:7" {
			return fmt.Errorf("gpu fields left: resources %v nodeSelector %v tolerations %v image %s", ctr.Resources, pod.NodeSelector, pod.Tolerations, ctr.Image)
		}
		if q := ctr.Resources.Limits[corev1.ResourceCPU]; q.Cmp(resource.MustParse("2")) != 0 {
			return fmt.Errorf("cpu limit %s, want small's 2", q.String())
		}
		return nil
	})

	// Back in ml-team, she picks gpu while small runs: the running workspace still reports
	// (and has) small; her next start has gpu.
	alice.Groups = []string{"ml-team"}
	if err := b.SetProfile(ctx, backend.Default("Alice"), "gpu"); err != nil {
		t.Fatal(err)
	}
	if w, err = b.Get(ctx, backend.Default("Alice")); err != nil || w.Profile != "small" {
		t.Errorf("Get after choosing gpu while small runs: profile %q, %v; want small until the next start", w.Profile, err)
	}
	if err := b.Stop(ctx, backend.Default("Alice")); err != nil {
		t.Fatal(err)
	}
	if w, err = b.Start(ctx, alice, ""); err != nil || w.Profile != "gpu" || strings.Contains(w.Notice, "profile") {
		t.Fatalf("next start: profile %q, notice %q, %v; want gpu and no fallback notice", w.Profile, w.Notice, err)
	}
	template("the chosen gpu profile at the next start", gpuPod("2", "32Gi", "b"))
}

// TestDeleteKeepsARetainedHome: Delete removes the Workspace; its home PVC (reclaimPolicy
// Retain, the default) has no owner reference, so garbage collection leaves it, as
// DeleteEffect says. A second Delete is ErrNotFound.
func TestDeleteKeepsARetainedHome(t *testing.T) {
	ctx := context.Background()
	c := kubetest.Client(t)
	ns := kubetest.Namespace(t, c, nil)
	ctrltest.RunManager(t, ns)
	b, err := kubernetes.New(kubernetes.Config{Client: c, Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, backend.Default("bob")); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("Delete of a workspace never created: %v, want ErrNotFound", err)
	}
	if _, err := b.Start(ctx, identity.Identity{User: "bob"}, ""); err != nil {
		t.Fatal(err)
	}
	ws := &codehubv1.Workspace{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: identity.WorkspaceName("bob")}, ws); err != nil {
		t.Fatal(err)
	}
	pvc := &corev1.PersistentVolumeClaim{}
	kubetest.Eventually(t, "the home PVC", func() error {
		return c.Get(ctx, client.ObjectKey{Namespace: ns, Name: workspacebuild.HomeClaimName(ws)}, pvc)
	})
	if len(pvc.OwnerReferences) != 0 {
		t.Fatalf("a Retain home PVC has owners %v: garbage collection would delete it with the Workspace", pvc.OwnerReferences)
	}
	effect, err := b.DeleteEffect(ctx, backend.Default("bob"))
	if err != nil || !strings.Contains(effect, "stays") || !strings.Contains(effect, pvc.Name) {
		t.Errorf("DeleteEffect = %q, %v; want it to say the PVC %s stays", effect, err, pvc.Name)
	}
	if err := b.Delete(ctx, backend.Default("bob")); err != nil {
		t.Fatal(err)
	}
	kubetest.Eventually(t, "the Workspace gone", func() error {
		if _, err := b.Get(ctx, backend.Default("bob")); !errors.Is(err, backend.ErrNotFound) {
			return fmt.Errorf("Get after Delete: %v", err)
		}
		return nil
	})
	if err := b.Delete(ctx, backend.Default("bob")); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}
}

func hasEnv(env []corev1.EnvVar, name, value string) bool {
	return slices.ContainsFunc(env, func(e corev1.EnvVar) bool { return e.Name == name && e.Value == value })
}
