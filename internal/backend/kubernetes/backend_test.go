package kubernetes_test

import (
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
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/backend/kubernetes"
	"github.com/codehub-dev/codehub/internal/controller/ctrltest"
	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/testkit/kubetest"
	"github.com/codehub-dev/codehub/internal/workspacebuild"
)

// TestStartRunProxyStop: first visit creates the Workspace from the defaults, the operator
// builds it, the test plays kubelet (Deployment available, endpoint = a real local
// code-server started with the credential from the operator's Secret), the workbench is
// proxied with the backend's Credential as code-server's cookie (and refused without it),
// and an idle stop sets running false.
func TestStartRunProxyStop(t *testing.T) {
	ctx, c, ns := kubetest.Setup(t)
	ctrltest.RunManager(t, ns)

	var codeServer *url.URL
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
	if _, err := b.Get(ctx, backend.Default("Alice")); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("Get before first visit: %v, want ErrNotFound", err)
	}
	w, err := b.Start(ctx, identity.Identity{User: "Alice", UID: ptr.To[int64](1001), GID: ptr.To[int64](100)}, "")
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

	// Play kubelet once the operator has made the Deployment: the pod's env gets the
	// credential from the Secret its secretKeyRef names.
	dep := &appsv1.Deployment{}
	kubetest.Eventually(t, "deployment created", func() error {
		return c.Get(ctx, client.ObjectKey{Namespace: ns, Name: workspacebuild.Base(ws)}, dep)
	})
	secret := &corev1.Secret{}
	for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
		if e.Name == "HASHED_PASSWORD" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			ref := e.ValueFrom.SecretKeyRef
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: ref.Name}, secret); err != nil {
				t.Fatal(err)
			}
			codeServer = startCodeServer(t, string(secret.Data[ref.Key]))
		}
	}
	if codeServer == nil {
		t.Fatalf("the pod template has no HASHED_PASSWORD from a Secret: %+v", dep.Spec.Template.Spec.Containers[0].Env)
	}
	kubetest.Eventually(t, "deployment available", func() error {
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: workspacebuild.Base(ws)}, dep); err != nil {
			return err
		}
		return kubetest.MarkAvailable(ctx, c, dep)
	})
	kubetest.Eventually(t, "backend reports Running", func() error {
		w, err = b.Get(ctx, backend.Default("Alice"))
		if err != nil {
			return err
		}
		if w.State != backend.StateRunning || w.Endpoint == nil {
			return fmt.Errorf("state %s: %s", w.State, w.Message)
		}
		return nil
	})
	if w.Credential == "" || w.Credential != string(secret.Data[workspacebuild.CredentialKey]) {
		t.Fatalf("Credential = %q, want the Secret's value", w.Credential)
	}
	if want := "http://" + workspacebuild.Base(ws) + "." + ns + ".svc:8080"; serviceURL != want {
		t.Fatalf("status.url = %q, want %q", serviceURL, want)
	}
	if !w.StopsAt.IsZero() || w.IdleTimeout != 0 {
		t.Fatalf("no idle timeout, yet StopsAt %v IdleTimeout %v", w.StopsAt, w.IdleTimeout)
	}
	// With an idle timeout the backend reports the operator's deadline from the stored
	// activity (what the API and the codehub extension show).
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: w.Name}, ws); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(ws.DeepCopy())
	ws.Spec.IdleTimeout = &metav1.Duration{Duration: time.Hour}
	if err := c.Patch(ctx, ws, patch); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(time.Minute).Truncate(time.Second)
	if err := b.RecordActivity(ctx, backend.Default("Alice"), at); err != nil {
		t.Fatal(err)
	}
	kubetest.Eventually(t, "the deadline from lastActivityTime", func() error {
		if w, err = b.Get(ctx, backend.Default("Alice")); err != nil {
			return err
		}
		if !w.LastActivity.Equal(at) || w.IdleTimeout != time.Hour || !w.StopsAt.Equal(at.Add(time.Hour)) || w.StopReason != backend.StopIdle {
			return fmt.Errorf("LastActivity %v IdleTimeout %v StopsAt %v %q", w.LastActivity, w.IdleTimeout, w.StopsAt, w.StopReason)
		}
		return nil
	})

	// The gateway proxies to the endpoint presenting the credential: the workbench page
	// comes back. Without it, code-server sends the request to its login page.
	for _, withCredential := range []bool{true, false} {
		endpoint := w.Endpoint
		rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(endpoint)
			if withCredential {
				pr.Out.AddCookie(&http.Cookie{Name: backend.CodeServerCookie, Value: w.Credential})
			}
		}}
		proxy := httptest.NewServer(rp)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, proxy.URL+"/?folder=/tmp", nil)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		proxy.Close()
		workbench := resp.StatusCode == http.StatusOK && strings.Contains(string(body), "workbench")
		if withCredential && !workbench {
			t.Fatalf("proxied workbench with the credential: status %d, body %.300s", resp.StatusCode, body)
		}
		if !withCredential && (workbench || resp.StatusCode != http.StatusFound || !strings.Contains(resp.Header.Get("Location"), "login")) {
			t.Fatalf("proxied without the credential: status %d, Location %q, body %.300s; want a redirect to login", resp.StatusCode, resp.Header.Get("Location"), body)
		}
	}

	// Idle: the gateway stops the workspace; the Deployment scales to zero.
	if err := b.Stop(ctx, backend.Default("Alice")); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(ws), ws); err != nil || ws.Spec.Running {
		t.Fatalf("after Stop: running=%v err=%v", ws.Spec.Running, err)
	}
	kubetest.Eventually(t, "deployment scaled to zero", func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(dep), dep); err != nil {
			return err
		}
		if *dep.Spec.Replicas != 0 {
			return fmt.Errorf("replicas %d", *dep.Spec.Replicas)
		}
		return kubetest.MarkScaledDown(ctx, c, dep)
	})
	kubetest.Eventually(t, "backend reports Stopped", func() error {
		w, err := b.Get(ctx, backend.Default("Alice"))
		if err != nil {
			return err
		}
		if w.State != backend.StateStopped || w.Endpoint != nil {
			return fmt.Errorf("state %s", w.State)
		}
		return nil
	})

	// Wake: running again, same Workspace.
	if w, err := b.Start(ctx, identity.Identity{User: "Alice"}, ""); err != nil || w.State != backend.StateStarting {
		t.Fatalf("wake: %+v %v", w, err)
	}
	list, err := b.List(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %v, %v; want the one workspace", list, err)
	}
}

// TestConcurrentFirstVisits: many simultaneous first visits create one Workspace.
func TestConcurrentFirstVisits(t *testing.T) {
	ctx, c, ns := kubetest.Setup(t)
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
			_, err := b.Start(ctx, identity.Identity{User: "bob"}, "")
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
	ctx, c, ns := kubetest.Setup(t)
	b, err := kubernetes.New(kubernetes.Config{Client: c, Namespace: ns, ActivityInterval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Start(ctx, identity.Identity{User: "carol"}, ""); err != nil {
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
	if err := b.RecordActivity(ctx, backend.Default("carol"), t0); err != nil {
		t.Fatal(err)
	}
	got, rv := lastWritten()
	if !got.Equal(t0) {
		t.Fatalf("lastActivityTime = %v, want %v", got, t0)
	}
	for _, d := range []time.Duration{time.Second, 30 * time.Second, 59 * time.Second} {
		if err := b.RecordActivity(ctx, backend.Default("carol"), t0.Add(d)); err != nil {
			t.Fatal(err)
		}
	}
	if got, rv2 := lastWritten(); !got.Equal(t0) || rv2 != rv {
		t.Fatalf("activity within the interval was written: %v (resourceVersion %s → %s)", got, rv, rv2)
	}
	if err := b.RecordActivity(ctx, backend.Default("carol"), t0.Add(61*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got, _ := lastWritten(); !got.Equal(t0.Add(61 * time.Second)) {
		t.Fatalf("activity after the interval: %v, want %v", got, t0.Add(61*time.Second))
	}
	if w, err := b.Get(ctx, backend.Default("carol")); err != nil || !w.LastActivity.Equal(t0.Add(61*time.Second)) {
		t.Fatalf("Get().LastActivity = %v, %v", w.LastActivity, err)
	}
}
