package kubernetes_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/backend/kubernetes"
	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/testkit/kubetest"
	"github.com/codehub-dev/codehub/internal/workspacebuild"
)

// secretGets wraps a real client and counts its Secret GETs.
func secretGets(c client.WithWatch) (client.Client, *atomic.Int64) {
	n := &atomic.Int64{}
	return interceptor.NewClient(c, interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if _, ok := obj.(*corev1.Secret); ok {
				n.Add(1)
			}
			return c.Get(ctx, key, obj, opts...)
		},
	}), n
}

// markRunning plays the operator: status Running for the Workspace's current generation.
func markRunning(t *testing.T, c client.Client, ws *codehubv1.Workspace) {
	t.Helper()
	kubetest.Eventually(t, "status Running", func() error {
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(ws), ws); err != nil {
			return err
		}
		ws.Status.Phase, ws.Status.ObservedGeneration = codehubv1.PhaseRunning, ws.Generation
		ws.Status.URL = "http://" + workspacebuild.Base(ws) + "." + ws.Namespace + ".svc:8080"
		return c.Status().Update(context.Background(), ws)
	})
}

// TestCredentialFromSecret: a Running Workspace is reported Running only with the credential
// from its Secret (missing Secret: Starting, naming it); the credential is cached per
// Workspace UID (one Secret GET for many reports), and a re-created Workspace's rotated
// credential is read at once.
func TestCredentialFromSecret(t *testing.T) {
	ctx := context.Background()
	base, err := client.NewWithWatch(kubetest.Config(t), client.Options{Scheme: kubetest.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	c, gets := secretGets(base)
	ns := kubetest.Namespace(t, c, nil)
	b, err := kubernetes.New(kubernetes.Config{Client: c, Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Start(ctx, identity.Identity{User: "judy"}, ""); err != nil {
		t.Fatal(err)
	}
	ws := &codehubv1.Workspace{}
	ws.Namespace, ws.Name = ns, identity.WorkspaceName("judy")
	markRunning(t, c, ws)

	w, err := b.Get(ctx, backend.Default("judy"))
	if err != nil {
		t.Fatal(err)
	}
	if w.State != backend.StateStarting || w.Credential != "" || w.Endpoint != nil || !strings.Contains(w.Message, workspacebuild.CredentialSecretName(ws)) {
		t.Fatalf("Running Workspace without its Secret: %+v, want Starting naming the Secret", w)
	}

	const first = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
	sec := workspacebuild.CredentialSecret(ws, first)
	if err := c.Create(ctx, sec); err != nil {
		t.Fatal(err)
	}
	gets.Store(0)
	for range 20 {
		w, err = b.Get(ctx, backend.Default("judy"))
		if err != nil {
			t.Fatal(err)
		}
		if w.State != backend.StateRunning || w.Credential != first || w.Endpoint == nil {
			t.Fatalf("with the Secret: %+v, want Running with the credential", w)
		}
		list, err := b.List(ctx)
		if err != nil || len(list) != 1 || list[0].Credential != first {
			t.Fatalf("List = %+v, %v", list, err)
		}
	}
	if n := gets.Load(); n != 1 {
		t.Fatalf("40 reports of a running workspace made %d Secret GETs, want 1 (cached)", n)
	}

	// Deleted and re-created (new UID); the operator rotated the credential: read at once,
	// although the old one's cache entry has not expired.
	if err := c.Delete(ctx, ws); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, sec); err != nil {
		t.Fatal(err)
	}
	kubetest.Eventually(t, "workspace gone", func() error {
		if _, err := b.Get(ctx, backend.Default("judy")); err != backend.ErrNotFound {
			return fmt.Errorf("Get: %v", err)
		}
		return nil
	})
	if _, err := b.Start(ctx, identity.Identity{User: "judy"}, ""); err != nil {
		t.Fatal(err)
	}
	markRunning(t, c, ws)
	const second = "a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1"
	if err := c.Create(ctx, workspacebuild.CredentialSecret(ws, second)); err != nil {
		t.Fatal(err)
	}
	if w, err := b.Get(ctx, backend.Default("judy")); err != nil || w.State != backend.StateRunning || w.Credential != second {
		t.Fatalf("re-created workspace: %+v, %v; want Running with the new credential", w, err)
	}

	// A malformed value is not presented: the workspace reads as starting.
	sec = &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: workspacebuild.CredentialSecretName(ws)}, sec); err != nil {
		t.Fatal(err)
	}
	sec.Data[workspacebuild.CredentialKey] = []byte("short")
	if err := c.Update(ctx, sec); err != nil {
		t.Fatal(err)
	}
	fresh, err := kubernetes.New(kubernetes.Config{Client: c, Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	if w, err := fresh.Get(ctx, backend.Default("judy")); err != nil || w.State != backend.StateStarting || w.Credential != "" {
		t.Fatalf("malformed credential: %+v, %v; want Starting without a credential", w, err)
	}
}
