package kubernetes

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
)

// The operator's status.start becomes the progress page's steps and notice.
func TestStepsFromStartStatus(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	mt := func(s int) *metav1.Time { v := metav1.NewTime(t0.Add(time.Duration(s) * time.Second)); return &v }
	st := &codehubv1.StartStatus{Stage: codehubv1.StageStartingCodeServer, CreatedAt: mt(0), ScheduledAt: mt(1), ContainerStartedAt: mt(3),
		PreviousRun: &codehubv1.Termination{Reason: "OOMKilled", ExitCode: 137, MemoryLimit: "64Mi", FinishedAt: mt(-60)}}
	got, notice := steps(st)
	if len(got) != 3 || got[0].Name != "Scheduling" || !got[0].Done.Equal(t0.Add(time.Second)) ||
		!got[1].Started.Equal(t0.Add(time.Second)) || !got[1].Done.Equal(t0.Add(3*time.Second)) ||
		!got[2].Started.Equal(t0.Add(3*time.Second)) || !got[2].Done.IsZero() {
		t.Errorf("steps %+v", got)
	}
	if !strings.Contains(notice, "ran out of memory (limit 64Mi)") || !strings.Contains(notice, "09:59:00 UTC") {
		t.Errorf("notice %q", notice)
	}
	if s, n := steps(nil); s != nil || n != "" {
		t.Errorf("no start: %v %q", s, n)
	}
}
