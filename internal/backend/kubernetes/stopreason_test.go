package kubernetes

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/backend"
)

func TestStopReason(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	ready := []metav1.Condition{{Type: codehubv1.ConditionReady, Status: metav1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-5 * time.Hour))}}
	for _, tc := range []struct {
		name string
		spec codehubv1.WorkspaceSpec
		last time.Time
		want string
	}{
		{"idle deadline passed", codehubv1.WorkspaceSpec{IdleTimeout: &metav1.Duration{Duration: time.Hour}}, now.Add(-2 * time.Hour), backend.StopIdle},
		{"maximum run time passed", codehubv1.WorkspaceSpec{MaxRunTime: &metav1.Duration{Duration: 4 * time.Hour}}, now, backend.StopMaxRunTime},
		{"stopped by someone before its deadline", codehubv1.WorkspaceSpec{IdleTimeout: &metav1.Duration{Duration: time.Hour}}, now.Add(-time.Minute), ""},
		{"no timeouts", codehubv1.WorkspaceSpec{}, now.Add(-10 * time.Hour), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := &codehubv1.Workspace{Spec: tc.spec}
			ws.Status.Conditions = ready
			ws.Status.LastActivityTime = &metav1.Time{Time: tc.last}
			if got := stopReason(ws, now); got != tc.want {
				t.Fatalf("stopReason = %q, want %q", got, tc.want)
			}
		})
	}
}
