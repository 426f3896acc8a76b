package controller

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/workspacebuild"
)

// containerName is code-server's container in the workspace pod.
const containerName = "code-server"

// currentPod is the newest workspace pod that is not being deleted (nil: none).
func (r *Reconciler) currentPod(ctx context.Context, ws *codehubv1.Workspace) (*corev1.Pod, error) {
	pods := &corev1.PodList{}
	if err := r.Client.List(ctx, pods, client.InNamespace(ws.Namespace), client.MatchingLabels(workspacebuild.SelectorLabels(ws))); err != nil {
		return nil, err
	}
	var newest *corev1.Pod
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp != nil {
			continue
		}
		if newest == nil || newest.CreationTimestamp.Before(&p.CreationTimestamp) {
			newest = p
		}
	}
	return newest, nil
}

func containerStatus(pod *corev1.Pod) *corev1.ContainerStatus {
	for i := range pod.Status.ContainerStatuses {
		if pod.Status.ContainerStatuses[i].Name == containerName {
			return &pod.Status.ContainerStatuses[i]
		}
	}
	return nil
}

func podCondition(pod *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == t {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

func timeOf(t metav1.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// progress derives the start's status from the workspace's pod (nil: none yet) and its
// start events (startEvents), and the last abnormal end of code-server's container. It is pure: the
// previous status comes from ws.
func progress(ws *codehubv1.Workspace, pod *corev1.Pod, events []corev1.Event) (*codehubv1.StartStatus, *codehubv1.Termination) {
	last := ws.Status.LastTermination
	if pod != nil {
		if t := termination(pod); t != nil && (last == nil || last.FinishedAt == nil || (t.FinishedAt != nil && t.FinishedAt.After(last.FinishedAt.Time))) {
			last = t
		}
	}
	prev := ws.Status.Start
	if !ws.Spec.Running {
		return prev, last // the last start stays readable; nothing starts now
	}
	var st *codehubv1.StartStatus
	switch {
	case pod != nil && prev != nil && prev.Pod == pod.Name:
		st = prev.DeepCopy()
	case pod == nil && prev != nil && prev.Pod == "":
		st = prev.DeepCopy()
	default:
		// A new start: it tells how the run before it ended, if that was abnormal (a
		// Pending start, before its pod existed, already knows).
		st = &codehubv1.StartStatus{}
		if prev != nil && prev.Pod == "" {
			st.PreviousRun = prev.PreviousRun
		} else {
			st.PreviousRun = previousRun(prev, ws.Status.LastTermination)
		}
		if pod != nil {
			st.Pod = pod.Name
		}
	}
	st.Reason, st.Message = "", ""
	if pod == nil {
		st.Stage = codehubv1.StagePending
		return st, last
	}
	st.CreatedAt = timeOf(pod.CreationTimestamp)
	if c := podCondition(pod, corev1.PodScheduled); c != nil && c.Status == corev1.ConditionTrue {
		st.ScheduledAt = timeOf(c.LastTransitionTime)
	}
	cs := containerStatus(pod)
	if cs != nil && cs.State.Running != nil {
		st.ContainerStartedAt = timeOf(cs.State.Running.StartedAt)
	}
	ready := false
	if c := podCondition(pod, corev1.PodReady); c != nil && c.Status == corev1.ConditionTrue {
		st.ReadyAt, ready = timeOf(c.LastTransitionTime), true
	}
	switch {
	case ready:
		st.Stage = codehubv1.StageReady
	case cs != nil && cs.State.Running != nil:
		st.Stage = codehubv1.StageStartingCodeServer
	case pod.Spec.NodeName != "" || st.ScheduledAt != nil:
		st.Stage = codehubv1.StageCreatingContainer
	default:
		st.Stage = codehubv1.StageScheduling
	}
	if ready {
		return st, last
	}

	if waitsForClaims(pod) {
		if e := latest(events, "PersistentVolumeClaim"); e != nil {
			st.Reason, st.Message = codehubv1.ReasonUnschedulable, fmt.Sprintf("the volume claim %s cannot be bound: %s", e.InvolvedObject.Name, e.Message)
		} else {
			st.Message = "its volume claims are not bound yet"
		}
		return st, last
	}
	if c := podCondition(pod, corev1.PodScheduled); c != nil && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
		st.Reason, st.Message = codehubv1.ReasonUnschedulable, strings.TrimSpace(c.Message)+requests(pod)
		return st, last
	}
	if cs != nil && cs.State.Waiting != nil {
		w := cs.State.Waiting
		switch w.Reason {
		case "ErrImageNeverPull", "ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ImageInspectError":
			st.Reason, st.Message = codehubv1.ReasonImageMissing, w.Message
			return st, last
		case "CreateContainerConfigError", "CreateContainerError", "RunContainerError":
			st.Reason, st.Message = codehubv1.ReasonContainerConfig, w.Message
			return st, last
		case "CrashLoopBackOff":
			st.Reason = codehubv1.ReasonCrashLooping
			if t := cs.LastTerminationState.Terminated; t != nil {
				if t.Reason == "OOMKilled" {
					st.Reason = codehubv1.ReasonOOMKilled
				}
				st.Message = terminationText(t, cs.RestartCount, memoryLimit(pod))
			} else {
				st.Message = w.Message
			}
			return st, last
		}
	}
	if e := latest(events, "Pod"); st.Stage == codehubv1.StageCreatingContainer && e != nil {
		st.Reason, st.Message = codehubv1.ReasonVolumeMountFailed, e.Message
		return st, last
	}
	if cs != nil && cs.State.Running != nil && cs.LastTerminationState.Terminated != nil {
		// Restarted after a crash or an out-of-memory kill, starting again: not (yet) a
		// failure, but the user should know why it takes longer.
		st.Message = "restarted after " + terminationText(cs.LastTerminationState.Terminated, cs.RestartCount, memoryLimit(pod))
	}
	return st, last
}

// previousRun is last when it happened after the previous start began (so during the run
// that came of it, or as it ended).
func previousRun(prev *codehubv1.StartStatus, last *codehubv1.Termination) *codehubv1.Termination {
	if last == nil {
		return nil
	}
	if prev != nil && prev.CreatedAt != nil && last.FinishedAt != nil && last.FinishedAt.Before(prev.CreatedAt) {
		return nil
	}
	return last.DeepCopy()
}

// termination is the abnormal end of code-server's container the pod reports (its current
// state or its last one), nil when there is none.
func termination(pod *corev1.Pod) *codehubv1.Termination {
	cs := containerStatus(pod)
	if cs == nil {
		return nil
	}
	t := cs.State.Terminated
	if t == nil {
		t = cs.LastTerminationState.Terminated
	}
	if t == nil || (t.ExitCode == 0 && t.Reason != "OOMKilled") || (t.Reason == "Completed") {
		return nil
	}
	return &codehubv1.Termination{Reason: t.Reason, ExitCode: t.ExitCode, Message: tail(t.Message, 600),
		MemoryLimit: memoryLimit(pod), FinishedAt: timeOf(t.FinishedAt), Restarts: cs.RestartCount}
}

// terminationText says how code-server's container ended, in a line.
func terminationText(t *corev1.ContainerStateTerminated, restarts int32, limit string) string {
	var s string
	if t.Reason == "OOMKilled" {
		s = "code-server ran out of memory and was killed"
		if limit != "" {
			s = fmt.Sprintf("code-server ran out of memory (limit %s) and was killed", limit)
		}
	} else {
		s = fmt.Sprintf("code-server exited with code %d", t.ExitCode)
		if t.Reason != "" && t.Reason != "Error" {
			s += " (" + t.Reason + ")"
		}
	}
	if restarts > 0 {
		s += fmt.Sprintf(", %d restarts", restarts)
	}
	if m := errorLine(t.Message); m != "" && t.Reason != "OOMKilled" {
		s += ": " + m
	}
	return s
}

// errorLine is the line of a failed container's log tail that says what went wrong: the last
// one naming an error (a stack trace's head, "Error: Cannot find module ..."), else the last
// line.
func errorLine(log string) string {
	var last, errLine string
	for _, l := range strings.Split(log, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		last = l
		if strings.Contains(l, "Error") || strings.Contains(l, "error:") || strings.HasPrefix(l, "fatal") {
			if !strings.HasPrefix(l, "at ") {
				errLine = l
			}
		}
	}
	if errLine == "" {
		errLine = last
	}
	if len(errLine) > 300 {
		errLine = errLine[:300] + "…"
	}
	return errLine
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 && i < len(s)-1 {
		s = s[i+1:]
	}
	return "…" + s
}

func memoryLimit(pod *corev1.Pod) string {
	for _, c := range pod.Spec.Containers {
		if c.Name == containerName {
			if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
				return q.String()
			}
		}
	}
	return ""
}

// requests says what the pod asks for, to go with "Insufficient cpu".
func requests(pod *corev1.Pod) string {
	for _, c := range pod.Spec.Containers {
		if c.Name != containerName || len(c.Resources.Requests) == 0 {
			continue
		}
		var parts []string
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if q, ok := c.Resources.Requests[r]; ok {
				parts = append(parts, fmt.Sprintf("%s %s", r, q.String()))
			}
		}
		if len(parts) > 0 {
			return " (the workspace requests " + strings.Join(parts, ", ") + ")"
		}
	}
	return ""
}

// startMessage is status.message while a workspace starts or fails to.
func startMessage(st *codehubv1.StartStatus) string {
	if st == nil {
		return "waiting for the code-server pod to become available"
	}
	switch st.Reason {
	case codehubv1.ReasonUnschedulable:
		return "no node can run the workspace: " + st.Message
	case codehubv1.ReasonImageMissing:
		return "the workspace image cannot be had: " + st.Message
	case codehubv1.ReasonVolumeMountFailed:
		return "a volume of the workspace cannot be mounted: " + st.Message
	case codehubv1.ReasonContainerConfig:
		return "the workspace container cannot be created: " + st.Message
	case codehubv1.ReasonCrashLooping, codehubv1.ReasonOOMKilled:
		return st.Message + "; it keeps being restarted"
	}
	msg := map[codehubv1.StartStage]string{
		codehubv1.StagePending:            "waiting for the workspace pod",
		codehubv1.StageScheduling:         "waiting for a node (scheduling)",
		codehubv1.StageCreatingContainer:  "creating the container (volumes, image)",
		codehubv1.StageStartingCodeServer: "starting code-server",
		codehubv1.StageReady:              "code-server is ready",
	}[st.Stage]
	if st.Message != "" {
		msg += " (" + st.Message + ")"
	}
	return msg
}
