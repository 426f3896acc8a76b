package workspacebuild

import (
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/idle"
)

// StopDeadline is when a running Workspace is stopped and why (backend.StopIdle or
// idle.StopMaxRunTime); zero when never. It counts from the Ready condition's last
// transition (the workspace became running) and status.lastActivityTime. The operator stops
// by it; the gateway's Kubernetes backend reports it (the codehub extension shows it).
func StopDeadline(ws *codehubv1.Workspace) (time.Time, string) {
	running := time.Time{}
	if c := meta.FindStatusCondition(ws.Status.Conditions, codehubv1.ConditionReady); c != nil && c.Status == metav1.ConditionTrue {
		running = c.LastTransitionTime.Time
	}
	last := time.Time{}
	if a := ws.Status.LastActivityTime; a != nil {
		last = a.Time
	}
	var idleFor, maxRun time.Duration
	if ws.Spec.IdleTimeout != nil {
		idleFor = ws.Spec.IdleTimeout.Duration
	}
	if ws.Spec.MaxRunTime != nil {
		maxRun = ws.Spec.MaxRunTime.Duration
	}
	return idle.Deadline(last, running, idleFor, maxRun)
}
