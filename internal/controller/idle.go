package controller

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/idle"
	"github.com/codehub-dev/codehub/internal/workspacebuild"
)

// idleStop sets running false once a Running workspace has seen no activity for
// spec.idleTimeout (status.lastActivityTime, written by any gateway replica; the operator is
// the only component that stops workspaces on Kubernetes), or has run for spec.maxRunTime,
// and otherwise asks to be called again when that time comes: the only time-based work the
// controller does.
func (r *Reconciler) idleStop(ctx context.Context, ws *codehubv1.Workspace) (ctrl.Result, error) {
	if !ws.Spec.Running || ws.Status.Phase != codehubv1.PhaseRunning {
		return ctrl.Result{}, nil
	}
	at, reason := workspacebuild.StopDeadline(ws)
	if at.IsZero() {
		return ctrl.Result{}, nil
	}
	if wait := at.Sub(r.now()); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	patch := client.MergeFromWithOptions(ws.DeepCopy(), client.MergeFromWithOptimisticLock{})
	ws.Spec.Running = false
	if err := r.Client.Patch(ctx, ws, patch); err != nil {
		// On a conflict the newer Workspace's event queues another pass.
		return ctrl.Result{}, ignoreConflict(err)
	}
	if r.Recorder != nil {
		if reason == idle.StopMaxRunTime {
			r.Recorder.Eventf(ws, nil, corev1.EventTypeNormal, "MaxRunTime", "Stop", "running for %s", ws.Spec.MaxRunTime.Duration)
		} else {
			r.Recorder.Eventf(ws, nil, corev1.EventTypeNormal, "IdleStop", "Stop", "no activity for %s", ws.Spec.IdleTimeout.Duration)
		}
	}
	return ctrl.Result{}, nil
}

func ignoreConflict(err error) error {
	if apierrors.IsConflict(err) {
		return nil
	}
	return err
}
