package controller

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/testkit/kubetest"
)

// The pod shapes below are what the kubelet and scheduler reported on the test node for each
// case (test/onnode provokes them for real); here each is mapped to the start's stage, reason
// and message without a cluster.

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func at(s int) metav1.Time { return metav1.NewTime(t0.Add(time.Duration(s) * time.Second)) }

func wsRunning() *codehubv1.Workspace {
	return kubetest.Workspace("alice", kubetest.Named("ws"), kubetest.InNamespace("ns"),
		kubetest.With(func(ws *codehubv1.Workspace) { ws.Generation = 1 }))
}

func pod(mutate func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "codehub-alice-1", Namespace: "ns", CreationTimestamp: at(0), UID: "uid-1"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: containerName, Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("64"), corev1.ResourceMemory: resource.MustParse("128Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}}}},
	}
	if mutate != nil {
		mutate(p)
	}
	return p
}

func scheduled(p *corev1.Pod) {
	p.Spec.NodeName = "node"
	p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: at(1)})
}

func waiting(reason, msg string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		scheduled(p)
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: containerName, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}}}
	}
}

// claimsUnbound is the scheduler's verdict on a pod whose home claim is not bound yet.
func claimsUnbound(p *corev1.Pod) {
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
		Message: "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. not found"}}
}

func TestProgressStagesAndReasons(t *testing.T) {
	claimEvent := corev1.Event{Type: corev1.EventTypeWarning, Reason: "ProvisioningFailed", LastTimestamp: at(2),
		InvolvedObject: corev1.ObjectReference{Kind: "PersistentVolumeClaim", Name: "codehub-alice-home"},
		Message:        `storageclass.storage.k8s.io "no-such-class" not found`}
	mountEvent := corev1.Event{Type: corev1.EventTypeWarning, Reason: "FailedMount", LastTimestamp: at(3), InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "codehub-alice-1"},
		Message: `MountVolume.SetUp failed for volume "mount-v3io" : mount command failed, status: Failure, reason: v3io: access key rejected (401 Unauthorized)`}
	for _, c := range []struct {
		name                  string
		pod                   *corev1.Pod
		events                []corev1.Event
		stage                 codehubv1.StartStage
		reason, want, message string
	}{
		{"no pod yet", nil, nil, codehubv1.StagePending, "", "waiting for the workspace pod", ""},
		{"scheduling", pod(nil), nil, codehubv1.StageScheduling, "", "waiting for a node", ""},
		{"unschedulable", pod(func(p *corev1.Pod) {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
				Message: "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."}}
		}), nil, codehubv1.StageScheduling, codehubv1.ReasonUnschedulable, "no node can run the workspace: 0/1 nodes are available: 1 Insufficient cpu.", "requests cpu 64, memory 128Mi"},
		{"claims not bound yet", pod(claimsUnbound), nil, codehubv1.StageScheduling, "", "waiting for a node", "its volume claims are not bound yet"},
		{"claim cannot be bound", pod(claimsUnbound), []corev1.Event{claimEvent}, codehubv1.StageScheduling, codehubv1.ReasonUnschedulable,
			"no node can run the workspace: the volume claim codehub-alice-home cannot be bound", `storageclass.storage.k8s.io "no-such-class" not found`},
		{"creating", pod(waiting("ContainerCreating", "")), nil, codehubv1.StageCreatingContainer, "", "creating the container", ""},
		{"image missing", pod(waiting("ErrImageNeverPull", `Container image "codehub-workspace:missing" is not present with pull policy of Never`)), nil,
			codehubv1.StageCreatingContainer, codehubv1.ReasonImageMissing, "the workspace image cannot be had", "is not present with pull policy of Never"},
		{"volume cannot mount", pod(waiting("ContainerCreating", "")), []corev1.Event{mountEvent}, codehubv1.StageCreatingContainer,
			codehubv1.ReasonVolumeMountFailed, "a volume of the workspace cannot be mounted", "access key rejected"},
		{"crash loop", pod(func(p *corev1.Pod) {
			waiting("CrashLoopBackOff", "back-off 10s restarting failed container")(p)
			p.Status.ContainerStatuses[0].RestartCount = 1
			p.Status.ContainerStatuses[0].LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error",
				Message: "node:internal/modules/cjs/loader:1568\n  throw err;\n  ^\n\nError: Cannot find module '/opt/site/missing-preload.js'\nRequire stack:\n- internal/preload\n" +
					"    at Module._resolveFilename (node:internal/modules/cjs/loader:1565:15)\n    at loadPreloadModules (node:internal/process/pre_execution:732:5) {\n  code: 'MODULE_NOT_FOUND',\n}\n\nNode.js v24.21.0\n",
				FinishedAt: at(5)}
		}), nil, codehubv1.StageCreatingContainer, codehubv1.ReasonCrashLooping,
			"code-server exited with code 1, 1 restarts: Error: Cannot find module '/opt/site/missing-preload.js'", "it keeps being restarted"},
		{"out of memory", pod(func(p *corev1.Pod) {
			waiting("CrashLoopBackOff", "back-off 10s")(p)
			p.Status.ContainerStatuses[0].RestartCount = 2
			p.Status.ContainerStatuses[0].LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled", FinishedAt: at(6)}
		}), nil, codehubv1.StageCreatingContainer, codehubv1.ReasonOOMKilled, "code-server ran out of memory (limit 64Mi) and was killed, 2 restarts", ""},
		{"starting code-server", pod(func(p *corev1.Pod) {
			scheduled(p)
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: containerName, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: at(2)}}}}
		}), nil, codehubv1.StageStartingCodeServer, "", "starting code-server", ""},
		{"ready", pod(func(p *corev1.Pod) {
			scheduled(p)
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: containerName, Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: at(2)}}}}
			p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: at(4)})
		}), nil, codehubv1.StageReady, "", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			ws := wsRunning()
			st, _ := progress(ws, c.pod, c.events)
			if st.Stage != c.stage || st.Reason != c.reason {
				t.Fatalf("stage %s reason %q, want %s %q (%+v)", st.Stage, st.Reason, c.stage, c.reason, st)
			}
			status := computeStatus(ws, &appsv1.Deployment{}, st, nil, nil)
			if c.want != "" && !strings.Contains(status.Message, c.want) || !strings.Contains(status.Message, c.message) {
				t.Errorf("status.message %q, want it to contain %q and %q", status.Message, c.want, c.message)
			}
			if failed := status.Phase == codehubv1.PhaseFailed; failed != (c.reason != "") {
				t.Errorf("phase %s with reason %q", status.Phase, c.reason)
			}
			if c.pod != nil && (st.CreatedAt == nil || !st.CreatedAt.Equal(&metav1.Time{Time: t0})) {
				t.Errorf("createdAt %v", st.CreatedAt)
			}
		})
	}
}

// The step times come from the cluster's own records of the pod.
func TestProgressTimes(t *testing.T) {
	p := pod(func(p *corev1.Pod) {
		scheduled(p)
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: containerName, Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: at(2)}}}}
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: at(4)})
	})
	st, _ := progress(wsRunning(), p, nil)
	for name, got := range map[string]*metav1.Time{"createdAt": st.CreatedAt, "scheduledAt": st.ScheduledAt, "containerStartedAt": st.ContainerStartedAt, "readyAt": st.ReadyAt} {
		want := map[string]int{"createdAt": 0, "scheduledAt": 1, "containerStartedAt": 2, "readyAt": 4}[name]
		if got == nil || !got.Time.Equal(t0.Add(time.Duration(want)*time.Second)) {
			t.Errorf("%s = %v, want t0+%ds", name, got, want)
		}
	}
}

// An out-of-memory kill is kept after the pod is gone, and the next start reports it.
func TestOOMKillShownOnTheNextStart(t *testing.T) {
	ws := wsRunning()
	oom := pod(func(p *corev1.Pod) {
		waiting("CrashLoopBackOff", "back-off 10s")(p)
		p.Status.ContainerStatuses[0].RestartCount = 1
		p.Status.ContainerStatuses[0].LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled", FinishedAt: at(6)}
	})
	st, last := progress(ws, oom, nil)
	if last == nil || last.Reason != "OOMKilled" || last.MemoryLimit != "64Mi" || last.ExitCode != 137 {
		t.Fatalf("last termination %+v", last)
	}
	ws.Status.Start, ws.Status.LastTermination = st, last

	// Stopped: the pod goes; the record stays.
	ws.Spec.Running = false
	st, last = progress(ws, nil, nil)
	if last == nil || st == nil || st.Pod != oom.Name {
		t.Fatalf("after the stop: start %+v last %+v", st, last)
	}
	ws.Status.Start, ws.Status.LastTermination = st, last

	// The next start, before its pod exists and with it.
	ws.Spec.Running = true
	st, _ = progress(ws, nil, nil)
	if st.Stage != codehubv1.StagePending || st.PreviousRun == nil || st.PreviousRun.Reason != "OOMKilled" {
		t.Fatalf("next start (no pod yet) = %+v, want the previous run's OOM kill", st)
	}
	ws.Status.Start = st
	next := pod(func(p *corev1.Pod) { p.Name, p.CreationTimestamp = "codehub-alice-2", at(60) })
	st, _ = progress(ws, next, nil)
	if st.Pod != next.Name || st.PreviousRun == nil || st.PreviousRun.Reason != "OOMKilled" || st.Reason != "" {
		t.Fatalf("next start = %+v, want the previous run's OOM kill and no failure of its own", st)
	}
	ws.Status.Start = st
	// The start after that one no longer reports it.
	third := pod(func(p *corev1.Pod) { p.Name, p.CreationTimestamp = "codehub-alice-3", at(120) })
	if st, _ = progress(ws, third, nil); st.PreviousRun != nil {
		t.Fatalf("third start still reports %+v", st.PreviousRun)
	}
}
