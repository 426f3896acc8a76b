package kubernetes_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/auth"
	"github.com/codehub-dev/codehub/internal/backend/kubernetes"
	"github.com/codehub-dev/codehub/internal/controller/ctrltest"
	"github.com/codehub-dev/codehub/internal/gateway"
	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/session"
	"github.com/codehub-dev/codehub/internal/users"
	"github.com/codehub-dev/codehub/internal/workspacebuild"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// browser marks every request as a page navigation, as a browser tab does.
type browser struct{ http.RoundTripper }

func (b browser) RoundTrip(r *http.Request) (*http.Response, error) {
	r.Header.Set("Accept", "text/html")
	return b.RoundTripper.RoundTrip(r)
}

// TestGatewayWithKubernetesBackend is the whole path through the real gateway: sign in →
// the first page visit creates the Workspace and shows the progress page → the operator
// builds it and the test plays kubelet → the workbench is proxied → after the idle timeout
// the gateway's reaper sets running false.
func TestGatewayWithKubernetesBackend(t *testing.T) {
	ctx := context.Background()
	c := ctrltest.Client(t)
	ns := ctrltest.Namespace(t, c, nil)
	ctrltest.RunManager(t, ns)
	codeServer := startCodeServer(t)
	b, err := kubernetes.New(kubernetes.Config{Client: c, Namespace: ns,
		Endpoint: func(*codehubv1.Workspace) (*url.URL, error) { return codeServer, nil }})
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	store, err := users.Open(filepath.Join(dir, "users.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Set("alice", "alice-password", false); err != nil {
		t.Fatal(err)
	}
	key, err := session.LoadOrCreateKey(filepath.Join(dir, "key"))
	if err != nil {
		t.Fatal(err)
	}
	codec, err := session.NewCodec(key, gateway.CookieName(false))
	if err != nil {
		t.Fatal(err)
	}
	rev, err := session.LoadRevocations(filepath.Join(dir, "revoked.json"))
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{t: time.Now()}
	gw := gateway.New(gateway.Config{Backend: b, Passwords: auth.Local{Users: store}, Codec: codec, Revocations: rev,
		IdleTimeout: time.Hour, Clock: clock, SessionTTL: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(gw.Handler())
	t.Cleanup(func() {
		srv.Close()
		gw.Shutdown(context.Background())
	})
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Transport: browser{http.DefaultTransport}}

	// Sign in.
	resp, err := hc.PostForm(srv.URL+"/_codehub/login", url.Values{"username": {"alice"}, "password": {"alice-password"}, "next": {"/"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "Starting") {
		t.Fatalf("first page after sign-in: status %d, want the progress page (503):\n%.300s", resp.StatusCode, body)
	}

	// That visit created the Workspace; the operator builds it and the kubelet runs it.
	ws := &codehubv1.Workspace{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: identity.WorkspaceName("alice")}, ws); err != nil {
		t.Fatalf("workspace after first visit: %v", err)
	}
	if ws.Spec.User != "alice" || !ws.Spec.Running {
		t.Fatalf("workspace spec %+v", ws.Spec)
	}
	ctrltest.Eventually(t, "deployment available", func() error {
		dep := &appsv1.Deployment{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: workspacebuild.Base(ws)}, dep); err != nil {
			return err
		}
		return ctrltest.MarkAvailable(ctx, c, dep)
	})

	// The progress page's refresh eventually lands on the proxied workbench.
	ctrltest.Eventually(t, "workbench proxied", func() error {
		resp, err := hc.Get(srv.URL + "/")
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "workbench") {
			return fmt.Errorf("status %d: %.200s", resp.StatusCode, body)
		}
		return nil
	})

	// Idle past the timeout: the reaper stops it, which the operator sees as running false.
	clock.Add(2 * time.Hour)
	if stopped := gw.ReapIdle(ctx); len(stopped) != 1 || stopped[0] != "alice" {
		t.Fatalf("ReapIdle stopped %v, want [alice]", stopped)
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(ws), ws); err != nil || ws.Spec.Running {
		t.Fatalf("after idle stop: running=%v err=%v", ws.Spec.Running, err)
	}
}
