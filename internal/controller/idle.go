package controller

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
)

// idleStop sets running false once a Running workspace has seen no activity for
// spec.idleTimeout, and otherwise asks to be called again when that time comes: the only
// time-based work the controller does.
func (r *Reconciler) idleStop(ctx context.Context, ws *codehubv1.Workspace) (ctrl.Result, error) {
	if !ws.Spec.Running || ws.Spec.IdleTimeout == nil || ws.Spec.IdleTimeout.Duration <= 0 || ws.Status.Phase != codehubv1.PhaseRunning {
		return ctrl.Result{}, nil
	}
	last := time.Time{}
	if c := meta.FindStatusCondition(ws.Status.Conditions, codehubv1.ConditionReady); c != nil {
		last = c.LastTransitionTime.Time
	}
	if a := ws.Status.LastActivityTime; a != nil && a.After(last) {
		last = a.Time
	}
	if wait := last.Add(ws.Spec.IdleTimeout.Duration).Sub(r.now()); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	patch := client.MergeFromWithOptions(ws.DeepCopy(), client.MergeFromWithOptimisticLock{})
	ws.Spec.Running = false
	if err := r.Client.Patch(ctx, ws, patch); err != nil {
		// On a conflict the newer Workspace's event queues another pass.
		return ctrl.Result{}, ignoreConflict(err)
	}
	if r.Recorder != nil {
		r.Recorder.Eventf(ws, nil, corev1.EventTypeNormal, "IdleStop", "Stop", "no activity for %s", ws.Spec.IdleTimeout.Duration)
	}
	return ctrl.Result{}, nil
}

func ignoreConflict(err error) error {
	if apierrors.IsConflict(err) {
		return nil
	}
	return err
}
