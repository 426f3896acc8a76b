package controller_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/controller/ctrltest"
	"github.com/codehub-dev/codehub/internal/testkit/kubetest"
)

// BenchmarkReconcile200 measures how long the operator takes from 200 new Workspaces to all
// 200 reconciled (every object applied, status written). Run with -bench Reconcile200 -benchtime 1x.
func BenchmarkReconcile200(b *testing.B)  { benchmarkReconcile(b, 200) }
func BenchmarkReconcile1000(b *testing.B) { benchmarkReconcile(b, 1000) }

// benchmarkReconcile creates n Workspaces, starts the operator and measures the time until
// every one has all its objects and its status written.
func benchmarkReconcile(b *testing.B, n int) {
	ctx := context.Background()
	c := kubetest.Client(b)
	for range b.N {
		ns := kubetest.Namespace(b, c, nil)
		for i := range n {
			if err := c.Create(ctx, kubetest.Workspace(fmt.Sprintf("bench-user-%04d", i), kubetest.InNamespace(ns))); err != nil {
				b.Fatal(err)
			}
		}
		start := time.Now()
		stop := ctrltest.RunManager(b, ns)
		// Poll once a second: listing every Workspace 20 times a second (the tests' usual
		// cadence) would load the shared apiserver more than the operator does at n=1000.
		deadline := time.Now().Add(20 * time.Minute)
		for {
			list := &codehubv1.WorkspaceList{}
			if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
				b.Fatal(err)
			}
			done := 0
			for _, ws := range list.Items {
				if ws.Status.Phase == codehubv1.PhaseStarting && ws.Status.ObservedGeneration == ws.Generation {
					done++
				}
			}
			if done == n {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d reconciled after 20 minutes", done, n)
			}
			time.Sleep(time.Second) // measurement cadence, not synchronisation: the loop re-checks
		}
		elapsed := time.Since(start)
		stop()
		b.ReportMetric(elapsed.Seconds(), fmt.Sprintf("s/%dws", n))
		b.Logf("reconciled %d Workspaces in %s", n, elapsed.Round(time.Millisecond))
	}
}
