package controller_test

import (
	"context"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/controller"
	"github.com/codehub-dev/codehub/internal/testkit/kubetest"
	"github.com/codehub-dev/codehub/internal/workspacebuild"
)

func TestMain(m *testing.M) { kubetest.Main(m) }

// writeCounter wraps a real client and records every request that could change state.
type writeCounter struct {
	mu     sync.Mutex
	writes []string
}

func (w *writeCounter) add(verb string, obj interface{ GetName() string }) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, verb+" "+obj.GetName())
}

func (w *writeCounter) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.writes
	w.writes = nil
	return out
}

type named string

func (n named) GetName() string { return string(n) }

func countingClient(t *testing.T) (client.Client, *writeCounter) {
	base, err := client.NewWithWatch(kubetest.Config(t), client.Options{Scheme: kubetest.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	wc := &writeCounter{}
	c := interceptor.NewClient(base, interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			wc.add("create", obj)
			return c.Create(ctx, obj, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			wc.add("update", obj)
			return c.Update(ctx, obj, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
			wc.add("patch", obj)
			return c.Patch(ctx, obj, p, opts...)
		},
		Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			wc.add("apply", named("?"))
			return c.Apply(ctx, obj, opts...)
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			wc.add("delete", obj)
			return c.Delete(ctx, obj, opts...)
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			wc.add("update/"+sub, obj)
			return c.SubResource(sub).Update(ctx, obj, opts...)
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
			wc.add("patch/"+sub, obj)
			return c.SubResource(sub).Patch(ctx, obj, p, opts...)
		},
	})
	return c, wc
}

func reconcileRequest(ws *codehubv1.Workspace) ctrl.Request {
	return ctrl.Request{NamespacedName: client.ObjectKeyFromObject(ws)}
}

func reconcile(t *testing.T, r *controller.Reconciler, ws *codehubv1.Workspace) ctrl.Result {
	t.Helper()
	res, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(ws)})
	if err != nil {
		t.Fatalf("reconcile %s: %v", ws.Name, err)
	}
	return res
}

func newReconciler(c client.Client) *controller.Reconciler {
	return &controller.Reconciler{Client: c, Options: workspacebuild.DefaultOptions()}
}

// createReconciled creates ws and reconciles it once, as the controller would on its create
// event.
func createReconciled(t *testing.T, c client.Client, r *controller.Reconciler, ws *codehubv1.Workspace) {
	t.Helper()
	if err := c.Create(context.Background(), ws); err != nil {
		t.Fatal(err)
	}
	reconcile(t, r, ws)
}

// deployment reads the Deployment the controller built for ws.
func deployment(t *testing.T, c client.Client, ws *codehubv1.Workspace) *appsv1.Deployment {
	t.Helper()
	dep := &appsv1.Deployment{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ws.Namespace, Name: workspacebuild.Base(ws)}, dep); err != nil {
		t.Fatal(err)
	}
	return dep
}

// createRunning creates ws and brings it to Running: reconcile, play the kubelet (the
// Deployment rolled out), reconcile again. It returns the Deployment.
func createRunning(t *testing.T, c client.Client, r *controller.Reconciler, ws *codehubv1.Workspace) *appsv1.Deployment {
	t.Helper()
	createReconciled(t, c, r, ws)
	dep := deployment(t, c, ws)
	if err := kubetest.MarkAvailable(context.Background(), c, dep); err != nil {
		t.Fatal(err)
	}
	reconcile(t, r, ws)
	return dep
}
