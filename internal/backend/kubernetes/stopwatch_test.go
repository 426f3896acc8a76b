package kubernetes_test

import (
	"context"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/backend/kubernetes"
	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/testkit/kubetest"
)

// TestNotifyStops: a running Workspace set to stop by someone else (here: the test, as the
// operator's idle stop or kubectl would) or deleted is reported once, with its user; one
// that was not running is not reported.
func TestNotifyStops(t *testing.T) {
	ctx := context.Background()
	c, err := kubernetes.NewClient(kubetest.Config(t))
	if err != nil {
		t.Fatal(err)
	}
	ns := kubetest.Namespace(t, c, nil)
	b, err := kubernetes.New(kubernetes.Config{Client: c, Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Shutdown(ctx) })

	mk := func(user string, running bool) *codehubv1.Workspace {
		ws := &codehubv1.Workspace{
			ObjectMeta: metav1.ObjectMeta{Name: identity.WorkspaceName(user), Namespace: ns},
			Spec:       codehubv1.WorkspaceSpec{User: user, Running: running, Image: "img"},
		}
		if err := c.Create(ctx, ws); err != nil {
			t.Fatal(err)
		}
		return ws
	}
	alice, bob, carol, warm := mk("alice", true), mk("bob", true), mk("carol", false), mk("warm-up", false)

	var mu sync.Mutex
	var got []string
	b.NotifyStops(func(ref backend.Ref, reason string) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, ref.String()+":"+reason)
	})
	// The warm-up's own notices (one per try, the last may come late) are not counted.
	reported := func() []string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for _, r := range got {
			if r != "warm-up:" {
				out = append(out, r)
			}
		}
		return out
	}
	setRunning := func(ws *codehubv1.Workspace, running bool) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(ws), ws); err != nil {
			t.Fatal(err)
		}
		ws.Spec.Running = running
		if err := c.Update(ctx, ws); err != nil {
			t.Fatal(err)
		}
	}

	// The watch starts from a list; a stop made before it is running could be missed, so
	// wait until a change made now is seen: starting is not a stop, stopping is.
	kubetest.Eventually(t, "watch running", func() error {
		setRunning(warm, true)
		setRunning(warm, false)
		mu.Lock()
		defer mu.Unlock()
		for _, r := range got {
			if r == "warm-up:" {
				return nil
			}
		}
		return context.DeadlineExceeded
	})

	setRunning(alice, false)
	if err := c.Delete(ctx, bob); err != nil {
		t.Fatal(err)
	}
	setRunning(alice, false) // already stopped: no second notice
	kubetest.Eventually(t, "alice's stop and bob's deletion reported", func() error {
		if len(reported()) < 2 {
			return context.DeadlineExceeded
		}
		return nil
	})
	// A later change proves nothing more was queued for alice or bob.
	setRunning(carol, true)
	setRunning(carol, false)
	kubetest.Eventually(t, "carol's stop reported", func() error {
		if len(reported()) < 3 {
			return context.DeadlineExceeded
		}
		return nil
	})
	want := []string{"alice:", "bob:", "carol:"}
	if r := reported(); len(r) != 3 || r[0] != want[0] || r[1] != want[1] || r[2] != want[2] {
		t.Fatalf("reported %q, want %q", r, want)
	}
}
