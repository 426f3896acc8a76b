package controller

import (
	"context"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// eventsRequeue is how often a start stuck before its container runs is looked at again:
// why is often said only in events (a volume that cannot be mounted, a claim that cannot be
// bound), which change nothing on the pod, so no watch event would bring the pass that
// notices it.
const eventsRequeue = 2 * time.Second

// startEvents are the cluster's warnings that explain a start stuck before code-server's
// container runs, read live (events are not in the cache) and only when they can explain
// something: the kubelet's about the pod's volumes (FailedMount and its kin) once the pod is
// on a node, and the volume controller's about the pod's claims (ProvisioningFailed,
// FailedBinding) while the scheduler waits for them to be bound.
func (r *Reconciler) startEvents(ctx context.Context, pod *corev1.Pod) ([]corev1.Event, error) {
	switch {
	case pod == nil || containerStatus(pod) != nil && containerStatus(pod).State.Running != nil:
		return nil, nil
	case pod.Spec.NodeName != "":
		return r.warnings(ctx, pod.Namespace, pod.UID, "FailedMount", "FailedAttachVolume", "FailedMapVolume")
	case !waitsForClaims(pod):
		return nil, nil
	}
	var out []corev1.Event
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim == nil {
			continue
		}
		pvc := &corev1.PersistentVolumeClaim{}
		if err := r.Client.Get(ctx, client.ObjectKey{Namespace: pod.Namespace, Name: v.PersistentVolumeClaim.ClaimName}, pvc); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return nil, err
		}
		if pvc.Status.Phase == corev1.ClaimBound {
			continue
		}
		evs, err := r.warnings(ctx, pod.Namespace, pvc.UID, "ProvisioningFailed", "FailedBinding")
		if err != nil {
			return nil, err
		}
		out = append(out, evs...)
	}
	return out, nil
}

// warnings are the Warning events about the object with uid whose reason is one of reasons.
func (r *Reconciler) warnings(ctx context.Context, namespace string, uid types.UID, reasons ...string) ([]corev1.Event, error) {
	reader := r.APIReader
	if reader == nil {
		reader = r.Client
	}
	list := &corev1.EventList{}
	if err := reader.List(ctx, list, client.InNamespace(namespace),
		client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("involvedObject.uid", string(uid))}); err != nil {
		return nil, err
	}
	var out []corev1.Event
	for _, e := range list.Items {
		if e.Type == corev1.EventTypeWarning && slices.Contains(reasons, e.Reason) {
			out = append(out, e)
		}
	}
	return out, nil
}

// unboundClaims is in the scheduler's message for a pod whose immediately bound claims are
// not bound yet: it retries when they are, so until the volume controller says a claim cannot
// be bound this is a wait (a provisioner at work, the binder a step behind), not a failure.
const unboundClaims = "unbound immediate PersistentVolumeClaims"

func waitsForClaims(pod *corev1.Pod) bool {
	c := podCondition(pod, corev1.PodScheduled)
	return c != nil && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable && strings.Contains(c.Message, unboundClaims)
}

// latest is the newest of events of kind (nil: none).
func latest(events []corev1.Event, kind string) *corev1.Event {
	var out *corev1.Event
	for i := range events {
		if e := &events[i]; e.InvolvedObject.Kind == kind && (out == nil || eventTime(*e).After(eventTime(*out))) {
			out = e
		}
	}
	return out
}

func eventTime(e corev1.Event) time.Time {
	for _, t := range []time.Time{e.LastTimestamp.Time, e.EventTime.Time, e.FirstTimestamp.Time} {
		if !t.IsZero() {
			return t
		}
	}
	return e.CreationTimestamp.Time
}
