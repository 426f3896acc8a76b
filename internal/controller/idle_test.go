package controller_test

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/codehub-dev/codehub/internal/testkit"
	"github.com/codehub-dev/codehub/internal/testkit/kubetest"
)

// TestIdleTimeoutStops drives the reconciler's clock: before the timeout it asks to be
// called back; after it, running becomes false. Activity pushes the deadline out.
func TestIdleTimeoutStops(t *testing.T) {
	ctx, c, ns := kubetest.Setup(t)
	clk := testkit.NewClock(time.Now())
	r := newReconciler(c)
	r.Clock = clk
	ws := kubetest.Workspace("idle", kubetest.InNamespace(ns), kubetest.WithIdleTimeout(time.Hour))
	createRunning(t, c, r, ws)
	if res := reconcile(t, r, ws); res.RequeueAfter <= 0 {
		t.Fatalf("running workspace with an idle timeout: result %+v, want a RequeueAfter", res)
	}

	// Activity recorded by the gateway two hours on keeps it alive.
	if err := c.Get(ctx, client.ObjectKeyFromObject(ws), ws); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Hour)
	ws.Status.LastActivityTime = &metav1.Time{Time: clk.Now().Add(-time.Minute)}
	if err := c.Status().Update(ctx, ws); err != nil {
		t.Fatal(err)
	}
	if res := reconcile(t, r, ws); res.RequeueAfter <= 0 {
		t.Fatalf("recently active workspace: result %+v, want a RequeueAfter", res)
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(ws), ws); err != nil || !ws.Spec.Running {
		t.Fatalf("recently active workspace stopped (err %v)", err)
	}

	clk.Advance(2 * time.Hour)
	reconcile(t, r, ws)
	if err := c.Get(ctx, client.ObjectKeyFromObject(ws), ws); err != nil || ws.Spec.Running {
		t.Fatalf("idle workspace still running=%v (err %v)", ws.Spec.Running, err)
	}
}

// TestMaxRunTimeStopsBusyWorkspace: activity keeps a workspace from its idle stop, never
// past spec.maxRunTime after it became running.
func TestMaxRunTimeStopsBusyWorkspace(t *testing.T) {
	ctx, c, ns := kubetest.Setup(t)
	clk := testkit.NewClock(time.Now())
	r := newReconciler(c)
	r.Clock = clk
	ws := kubetest.Workspace("maxrun", kubetest.InNamespace(ns), kubetest.WithIdleTimeout(time.Hour), kubetest.WithMaxRunTime(3*time.Hour))
	createRunning(t, c, r, ws)
	active := func(at time.Time) {
		t.Helper()
		if err := c.Get(ctx, client.ObjectKeyFromObject(ws), ws); err != nil {
			t.Fatal(err)
		}
		ws.Status.LastActivityTime = &metav1.Time{Time: at}
		if err := c.Status().Update(ctx, ws); err != nil {
			t.Fatal(err)
		}
	}
	// Busy all along: recorded activity every 50 minutes up to 2h50m.
	for _, h := range []time.Duration{50 * time.Minute, 100 * time.Minute, 150 * time.Minute, 170 * time.Minute} {
		clk.Set(time.Now().Add(h))
		active(clk.Now())
		res := reconcile(t, r, ws)
		if err := c.Get(ctx, client.ObjectKeyFromObject(ws), ws); err != nil || !ws.Spec.Running {
			t.Fatalf("stopped at +%s despite activity (err %v)", h, err)
		}
		if res.RequeueAfter <= 0 {
			t.Fatalf("+%s: result %+v, want a RequeueAfter", h, res)
		}
	}
	clk.Set(time.Now().Add(3*time.Hour + time.Minute))
	active(clk.Now().Add(-time.Minute)) // active a minute ago: still the maximum run time's end
	reconcile(t, r, ws)
	if err := c.Get(ctx, client.ObjectKeyFromObject(ws), ws); err != nil || ws.Spec.Running {
		t.Fatalf("past spec.maxRunTime: running=%v (err %v)", ws.Spec.Running, err)
	}
}
