package controller_test

import (
	"context"
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/controller/ctrltest"
	"github.com/codehub-dev/codehub/internal/testkit/kubetest"
	"github.com/codehub-dev/codehub/internal/workspacebuild"
)

// TestLifecycleWithWatches runs the real manager: a deleted child comes back through the
// Owns() watch, a spec change rolls the pod template, stop scales to zero and keeps the PVC.
func TestLifecycleWithWatches(t *testing.T) {
	ctx, c, ns := kubetest.Setup(t)
	ctrltest.RunManager(t, ns)

	ws := kubetest.Workspace("Alice", kubetest.InNamespace(ns))
	if err := c.Create(ctx, ws); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKey{Namespace: ns, Name: workspacebuild.Base(ws)}
	dep := &appsv1.Deployment{}
	kubetest.Eventually(t, "deployment created", func() error { return c.Get(ctx, key, dep) })

	svc := &corev1.Service{}
	kubetest.Eventually(t, "service created", func() error { return c.Get(ctx, key, svc) })
	oldUID := svc.UID
	if err := c.Delete(ctx, svc); err != nil {
		t.Fatal(err)
	}
	kubetest.Eventually(t, "deleted service recreated", func() error {
		if err := c.Get(ctx, key, svc); err != nil {
			return err
		}
		if svc.UID == oldUID {
			return fmt.Errorf("still the old service")
		}
		return nil
	})

	// kubectl scale is reverted: spec.running is the only switch.
	kubetest.Eventually(t, "scale the deployment by hand", func() error {
		if err := c.Get(ctx, key, dep); err != nil {
			return err
		}
		dep.Spec.Replicas = ptr.To[int32](3)
		return c.Update(ctx, dep)
	})
	kubetest.Eventually(t, "replicas back to 1", func() error {
		if err := c.Get(ctx, key, dep); err != nil {
			return err
		}
		if *dep.Spec.Replicas != 1 {
			return fmt.Errorf("replicas %d", *dep.Spec.Replicas)
		}
		return nil
	})

	pvc := &corev1.PersistentVolumeClaim{}
	pvcKey := client.ObjectKey{Namespace: ns, Name: workspacebuild.HomeClaimName(ws)}
	kubetest.Eventually(t, "home pvc created", func() error { return c.Get(ctx, pvcKey, pvc) })
	pvcUID := pvc.UID

	// The pod comes up.
	kubetest.Eventually(t, "deployment marked available", func() error {
		if err := c.Get(ctx, key, dep); err != nil {
			return err
		}
		return kubetest.MarkAvailable(ctx, c, dep)
	})
	waitPhase(t, c, ws, codehubv1.PhaseRunning)

	// A changed spec rolls the Deployment: new template, new generation.
	gen := dep.Generation
	update(t, c, ws, func(ws *codehubv1.Workspace) { ws.Spec.Image = "codehub-workspace:2" })
	kubetest.Eventually(t, "deployment rolled to the new image", func() error {
		if err := c.Get(ctx, key, dep); err != nil {
			return err
		}
		if img := dep.Spec.Template.Spec.Containers[0].Image; img != "codehub-workspace:2" || dep.Generation == gen {
			return fmt.Errorf("image %s generation %d", img, dep.Generation)
		}
		return nil
	})
	waitPhase(t, c, ws, codehubv1.PhaseStarting) // the new template has no available pod yet

	// A conda change reaches the pod through the init ConfigMap's hash.
	confHash := dep.Spec.Template.Annotations[workspacebuild.AnnotationConfigHash]
	update(t, c, ws, func(ws *codehubv1.Workspace) {
		ws.Spec.Conda = &codehubv1.CondaSpec{EnvsDirs: []string{"/shared/conda/envs"}}
	})
	kubetest.Eventually(t, "config change rolls the pod", func() error {
		if err := c.Get(ctx, key, dep); err != nil {
			return err
		}
		if dep.Spec.Template.Annotations[workspacebuild.AnnotationConfigHash] == confHash {
			return fmt.Errorf("config hash unchanged")
		}
		return nil
	})

	// Stop: zero replicas, PVC untouched.
	update(t, c, ws, func(ws *codehubv1.Workspace) { ws.Spec.Running = false })
	kubetest.Eventually(t, "deployment scaled to 0", func() error {
		if err := c.Get(ctx, key, dep); err != nil {
			return err
		}
		if *dep.Spec.Replicas != 0 {
			return fmt.Errorf("replicas %d", *dep.Spec.Replicas)
		}
		return nil
	})
	waitPhase(t, c, ws, codehubv1.PhaseStopping)
	kubetest.Eventually(t, "pods gone", func() error {
		if err := c.Get(ctx, key, dep); err != nil {
			return err
		}
		return kubetest.MarkScaledDown(ctx, c, dep)
	})
	waitPhase(t, c, ws, codehubv1.PhaseStopped)
	if err := c.Get(ctx, pvcKey, pvc); err != nil || pvc.UID != pvcUID {
		t.Fatalf("home PVC after stop: err=%v uid=%s want %s", err, pvc.UID, pvcUID)
	}

	// Delete with Retain: the PVC has no owner, so garbage collection (not run by envtest)
	// leaves it; a new Workspace of the same user mounts the same claim.
	if len(pvc.OwnerReferences) != 0 {
		t.Fatalf("Retain PVC has owner references %v", pvc.OwnerReferences)
	}
	if err := c.Delete(ctx, ws); err != nil {
		t.Fatal(err)
	}
	kubetest.Eventually(t, "workspace deleted", func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(ws), &codehubv1.Workspace{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("get: %v", err)
		}
		return nil
	})
	again := kubetest.Workspace("Alice", kubetest.InNamespace(ns))
	if err := c.Create(ctx, again); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, c, again, codehubv1.PhaseStarting)
	if err := c.Get(ctx, pvcKey, pvc); err != nil || pvc.UID != pvcUID {
		t.Fatalf("home PVC after re-creating the workspace: err=%v uid=%s want %s", err, pvc.UID, pvcUID)
	}
}

// TestDeleteReclaimPolicyOwnsPVC: with reclaimPolicy Delete the PVC is owned, so garbage
// collection removes it with the Workspace.
func TestDeleteReclaimPolicyOwnsPVC(t *testing.T) {
	ctx, c, ns := kubetest.Setup(t)
	cc, _ := countingClient(t)
	r := newReconciler(cc)
	ws := kubetest.Workspace("dora", kubetest.InNamespace(ns), kubetest.With(func(ws *codehubv1.Workspace) {
		ws.Spec.Home.PVC = &codehubv1.HomePVC{ReclaimPolicy: codehubv1.ReclaimDelete}
	}))
	createReconciled(t, c, r, ws)
	pvc := &corev1.PersistentVolumeClaim{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: workspacebuild.HomeClaimName(ws)}, pvc); err != nil {
		t.Fatal(err)
	}
	if owner := metav1.GetControllerOf(pvc); owner == nil || owner.UID != ws.UID {
		t.Fatalf("Delete PVC owner = %+v, want the workspace %s", owner, ws.UID)
	}
}

func waitPhase(t *testing.T, c client.Client, ws *codehubv1.Workspace, phase codehubv1.Phase) {
	t.Helper()
	kubetest.Eventually(t, "phase "+string(phase), func() error {
		got := &codehubv1.Workspace{}
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(ws), got); err != nil {
			return err
		}
		if got.Status.Phase != phase || got.Status.ObservedGeneration != got.Generation {
			return fmt.Errorf("phase %s (generation %d observed %d): %s", got.Status.Phase, got.Generation, got.Status.ObservedGeneration, got.Status.Message)
		}
		return nil
	})
}

// update applies mutate to the latest Workspace, retrying on conflicts with the controller.
func update(t *testing.T, c client.Client, ws *codehubv1.Workspace, mutate func(*codehubv1.Workspace)) {
	t.Helper()
	kubetest.Eventually(t, "update workspace", func() error {
		if err := c.Get(context.Background(), types.NamespacedName{Namespace: ws.Namespace, Name: ws.Name}, ws); err != nil {
			return err
		}
		mutate(ws)
		return c.Update(context.Background(), ws)
	})
}
