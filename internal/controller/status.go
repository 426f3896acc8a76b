package controller

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/workspacebuild"
)

// URL is where in-cluster clients (the gateway) reach the workspace's code-server.
func URL(ws *codehubv1.Workspace) string {
	return fmt.Sprintf("http://%s.%s.svc:%d", workspacebuild.Base(ws), ws.Namespace, workspacebuild.Port)
}

// available says whether the Deployment's current template has a serving pod.
func available(ws *codehubv1.Workspace, dep *appsv1.Deployment) bool {
	if dep.Name == "" || dep.Status.ObservedGeneration < dep.Generation || dep.Status.AvailableReplicas < 1 {
		return false
	}
	c := deploymentCondition(dep, appsv1.DeploymentAvailable)
	return c != nil && c.Status == corev1.ConditionTrue
}

func deploymentCondition(dep *appsv1.Deployment, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range dep.Status.Conditions {
		if dep.Status.Conditions[i].Type == t {
			return &dep.Status.Conditions[i]
		}
	}
	return nil
}

// computeStatus derives the next status from the spec, the Deployment, the start's progress
// (from the pod: progress) and the apply outcome. It starts from the current status so
// unchanged conditions keep their transition times. A start the cluster says cannot go on
// (image missing, unschedulable, a volume that does not mount, a crash loop, out of memory)
// is Failed at once, with the cluster's reason, rather than after the Deployment's progress
// deadline; it turns Running if the cluster later recovers.
func computeStatus(ws *codehubv1.Workspace, dep *appsv1.Deployment, start *codehubv1.StartStatus, last *codehubv1.Termination, applyErr error) codehubv1.WorkspaceStatus {
	st := *ws.Status.DeepCopy()
	st.Start, st.LastTermination = start.DeepCopy(), last.DeepCopy()
	st.ObservedGeneration = ws.Generation
	st.URL = URL(ws)
	st.ReadyReplicas = dep.Status.ReadyReplicas
	ready := ws.Spec.Running && available(ws, dep)

	switch {
	case applyErr != nil:
		st.Phase, st.Message = codehubv1.PhaseFailed, applyErr.Error()
	case ws.Spec.Running && ready:
		st.Phase, st.Message = codehubv1.PhaseRunning, ""
	case ws.Spec.Running:
		st.Phase, st.Message = codehubv1.PhaseStarting, startMessage(start)
		if start != nil && start.Reason != "" {
			st.Phase = codehubv1.PhaseFailed
		} else if c := deploymentCondition(dep, appsv1.DeploymentProgressing); c != nil && c.Status == corev1.ConditionFalse {
			st.Phase, st.Message = codehubv1.PhaseFailed, c.Message
		}
	case dep.Status.Replicas > 0:
		st.Phase, st.Message = codehubv1.PhaseStopping, "waiting for the code-server pod to exit"
	case st.Phase == "" || st.Phase == codehubv1.PhasePending:
		st.Phase, st.Message = codehubv1.PhasePending, ""
	default:
		st.Phase, st.Message = codehubv1.PhaseStopped, ""
	}

	readyCond := metav1.Condition{Type: codehubv1.ConditionReady, Status: metav1.ConditionFalse, Reason: string(st.Phase), Message: st.Message, ObservedGeneration: ws.Generation}
	if ready {
		readyCond.Status = metav1.ConditionTrue
	}
	meta.SetStatusCondition(&st.Conditions, readyCond)
	rec := metav1.Condition{Type: codehubv1.ConditionReconciled, Status: metav1.ConditionTrue, Reason: "Applied", ObservedGeneration: ws.Generation}
	if applyErr != nil {
		rec.Status, rec.Reason, rec.Message = metav1.ConditionFalse, "ApplyFailed", applyErr.Error()
	}
	meta.SetStatusCondition(&st.Conditions, rec)
	return st
}

// writeStatus writes the status once per pass, only when it changed, and emits an event for
// each phase transition.
func (r *Reconciler) writeStatus(ctx context.Context, ws *codehubv1.Workspace, next codehubv1.WorkspaceStatus) error {
	if equality.Semantic.DeepEqual(ws.Status, next) {
		return nil
	}
	prev := ws.Status.Phase
	ws.Status = next
	if err := r.Client.Status().Update(ctx, ws); err != nil {
		return err
	}
	if prev != next.Phase && r.Recorder != nil {
		kind, reason := corev1.EventTypeNormal, string(next.Phase)
		if next.Phase == codehubv1.PhaseFailed {
			kind = corev1.EventTypeWarning
		}
		r.Recorder.Eventf(ws, nil, kind, reason, "Reconcile", "%s → %s %s", orNone(prev), next.Phase, next.Message)
	}
	return nil
}

func orNone(p codehubv1.Phase) string {
	if p == "" {
		return "(new)"
	}
	return string(p)
}
