package kubernetes_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/backend/kubernetes"
	"github.com/codehub-dev/codehub/internal/controller/ctrltest"
	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/workspacebuild"
)

// TestStartRunProxyStop: first visit creates the Workspace from the defaults, the operator
// builds it, the test plays kubelet (Deployment available, endpoint = a real local
// code-server), the workbench is proxied, and an idle stop sets running false.
func TestStartRunProxyStop(t *testing.T) {
	ctx := context.Background()
	c := ctrltest.Client(t)
	ns := ctrltest.Namespace(t, c, nil)
	ctrltest.RunManager(t, ns)
	codeServer := startCodeServer(t)

	var serviceURL string
	b, err := kubernetes.New(kubernetes.Config{
		Client: c, Namespace: ns,
		Defaults: codehubv1.WorkspaceSpec{Image: "registry.example/codehub-workspace:7", Conda: &codehubv1.CondaSpec{EnvsDirs: []string{"/User/.conda/envs"}}},
		Endpoint: func(ws *codehubv1.Workspace) (*url.URL, error) {
			serviceURL = ws.Status.URL
			return codeServer, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, "Alice"); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("Get before first visit: %v, want ErrNotFound", err)
	}
	w, err := b.Start(ctx, identity.Identity{User: "Alice", UID: ptr.To[int64](1001), GID: ptr.To[int64](100)})
	if err != nil {
		t.Fatal(err)
	}
	if w.State != backend.StateStarting || w.Name != identity.WorkspaceName("Alice") || w.Endpoint != nil {
		t.Fatalf("after Start: %+v", w)
	}
	ws := &codehubv1.Workspace{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: w.Name}, ws); err != nil {
		t.Fatal(err)
	}
	if ws.Spec.User != "Alice" || !ws.Spec.Running || *ws.Spec.UID != 1001 || *ws.Spec.GID != 100 || ws.Spec.Image != "registry.example/codehub-workspace:7" {
		t.Fatalf("created workspace spec = %+v", ws.Spec)
	}

	// Play kubelet once the operator has made the Deployment.
	dep := &appsv1.Deployment{}
	ctrltest.Eventually(t, "deployment available", func() error {
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: workspacebuild.Base(ws)}, dep); err != nil {
			return err
		}
		return ctrltest.MarkAvailable(ctx, c, dep)
	})
	ctrltest.Eventually(t, "backend reports Running", func() error {
		w, err = b.Get(ctx, "Alice")
		if err != nil {
			return err
		}
		if w.State != backend.StateRunning || w.Endpoint == nil {
			return fmt.Errorf("state %s: %s", w.State, w.Message)
		}
		return nil
	})
	if want := "http://" + workspacebuild.Base(ws) + "." + ns + ".svc:8080"; serviceURL != want {
		t.Fatalf("status.url = %q, want %q", serviceURL, want)
	}

	// The gateway proxies to the endpoint: the workbench page comes back.
	proxy := httptest.NewServer(httputil.NewSingleHostReverseProxy(w.Endpoint))
	defer proxy.Close()
	resp, err := http.Get(proxy.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "workbench") {
		t.Fatalf("proxied workbench: status %d, body %.300s", resp.StatusCode, body)
	}

	// Idle: the gateway stops the workspace; the Deployment scales to zero.
	if err := b.Stop(ctx, "Alice"); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(ws), ws); err != nil || ws.Spec.Running {
		t.Fatalf("after Stop: running=%v err=%v", ws.Spec.Running, err)
	}
	ctrltest.Eventually(t, "deployment scaled to zero", func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(dep), dep); err != nil {
			return err
		}
		if *dep.Spec.Replicas != 0 {
			return fmt.Errorf("replicas %d", *dep.Spec.Replicas)
		}
		return ctrltest.MarkScaledDown(ctx, c, dep)
	})
	ctrltest.Eventually(t, "backend reports Stopped", func() error {
		w, err := b.Get(ctx, "Alice")
		if err != nil {
			return err
		}
		if w.State != backend.StateStopped || w.Endpoint != nil {
			return fmt.Errorf("state %s", w.State)
		}
		return nil
	})

	// Wake: running again, same Workspace.
	if w, err := b.Start(ctx, identity.Identity{User: "Alice"}); err != nil || w.State != backend.StateStarting {
		t.Fatalf("wake: %+v %v", w, err)
	}
	list, err := b.List(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %v, %v; want the one workspace", list, err)
	}
}

// TestConcurrentFirstVisits: many simultaneous first visits create one Workspace.
func TestConcurrentFirstVisits(t *testing.T) {
	ctx := context.Background()
	c := ctrltest.Client(t)
	ns := ctrltest.Namespace(t, c, nil)
	b, err := kubernetes.New(kubernetes.Config{Client: c, Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := b.Start(ctx, identity.Identity{User: "bob"})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	list := &codehubv1.WorkspaceList{}
	if err := c.List(ctx, list, client.InNamespace(ns)); err != nil || len(list.Items) != 1 {
		t.Fatalf("workspaces after 8 concurrent starts: %d (%v)", len(list.Items), err)
	}
}

// TestRecordActivityIsRateLimited: within the interval only the first activity is written.
func TestRecordActivityIsRateLimited(t *testing.T) {
	ctx := context.Background()
	c := ctrltest.Client(t)
	ns := ctrltest.Namespace(t, c, nil)
	b, err := kubernetes.New(kubernetes.Config{Client: c, Namespace: ns, ActivityInterval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Start(ctx, identity.Identity{User: "carol"}); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKey{Namespace: ns, Name: identity.WorkspaceName("carol")}
	lastWritten := func() (time.Time, string) {
		ws := &codehubv1.Workspace{}
		if err := c.Get(ctx, key, ws); err != nil {
			t.Fatal(err)
		}
		if ws.Status.LastActivityTime == nil {
			return time.Time{}, ws.ResourceVersion
		}
		return ws.Status.LastActivityTime.Time, ws.ResourceVersion
	}
	t0 := time.Now().Truncate(time.Second)
	if err := b.RecordActivity(ctx, "carol", t0); err != nil {
		t.Fatal(err)
	}
	got, rv := lastWritten()
	if !got.Equal(t0) {
		t.Fatalf("lastActivityTime = %v, want %v", got, t0)
	}
	for _, d := range []time.Duration{time.Second, 30 * time.Second, 59 * time.Second} {
		if err := b.RecordActivity(ctx, "carol", t0.Add(d)); err != nil {
			t.Fatal(err)
		}
	}
	if got, rv2 := lastWritten(); !got.Equal(t0) || rv2 != rv {
		t.Fatalf("activity within the interval was written: %v (resourceVersion %s → %s)", got, rv, rv2)
	}
	if err := b.RecordActivity(ctx, "carol", t0.Add(61*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got, _ := lastWritten(); !got.Equal(t0.Add(61 * time.Second)) {
		t.Fatalf("activity after the interval: %v, want %v", got, t0.Add(61*time.Second))
	}
	if w, err := b.Get(ctx, "carol"); err != nil || !w.LastActivity.Equal(t0.Add(61*time.Second)) {
		t.Fatalf("Get().LastActivity = %v, %v", w.LastActivity, err)
	}
}
