package kubernetes

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/workspacebuild"
)

// view maps a Workspace to the gateway's view. A spec the operator has not observed yet
// reports where it is going, so a just-started workspace never reads as Stopped. A Running
// workspace is only reported Running together with its credential.
func (b *Backend) view(ctx context.Context, ws *codehubv1.Workspace) backend.Workspace {
	w := backend.Workspace{Name: ws.Name, User: ws.Spec.User, Named: workspacebuild.NamedOf(ws), State: backend.State(ws.Status.Phase), Message: ws.Status.Message,
		Profile: ws.Spec.Profile, Created: ws.CreationTimestamp.Time}
	if t := ws.Status.LastActivityTime; t != nil {
		w.LastActivity = t.Time
	}
	if ws.Spec.IdleTimeout != nil {
		w.IdleTimeout = ws.Spec.IdleTimeout.Duration
	}
	current := ws.Status.ObservedGeneration == ws.Generation && ws.Generation != 0
	switch {
	case !current && ws.Spec.Running:
		w.State, w.Message = backend.StateStarting, "waiting for the operator"
	case !current:
		w.State = backend.StateStopping
		if ws.Status.Phase == "" || ws.Status.Phase == codehubv1.PhasePending || ws.Status.Phase == codehubv1.PhaseStopped {
			w.State = backend.State(orPending(ws.Status.Phase))
		}
	case w.State == "":
		w.State = backend.StatePending
	}
	profileNotice := ws.Annotations[AnnotationProfileNotice]
	w.Notice = profileNotice
	if w.State != backend.StateRunning {
		b.creds.forget(ws.Name)
		if current && ws.Spec.Running {
			var previous string
			w.Steps, previous = steps(ws.Status.Start)
			w.Notice = strings.TrimSpace(profileNotice + " " + previous)
		}
		return w
	}
	u, err := b.cfg.Endpoint(ws)
	if err != nil {
		w.State, w.Message = backend.StateStarting, err.Error()
		return w
	}
	cred, err := b.credential(ctx, ws)
	if err != nil {
		w.State, w.Message = backend.StateStarting, err.Error()
		return w
	}
	w.Endpoint, w.Credential = u, cred
	// The operator's deadline, from the stored activity: what the codehub extension shows.
	w.StopsAt, w.StopReason = workspacebuild.StopDeadline(ws)
	return w
}

// steps renders the operator's record of the current start (status.start) for the
// progress page: each step with when it began and ended, and how the previous run ended
// when it ended abnormally.
func steps(st *codehubv1.StartStatus) ([]backend.Step, string) {
	if st == nil {
		return nil, ""
	}
	t := func(mt *metav1.Time) time.Time {
		if mt == nil {
			return time.Time{}
		}
		return mt.Time
	}
	out := []backend.Step{
		{Name: "Scheduling", Started: t(st.CreatedAt), Done: t(st.ScheduledAt)},
		{Name: "Creating the container", Started: t(st.ScheduledAt), Done: t(st.ContainerStartedAt)},
		{Name: "Starting code-server", Started: t(st.ContainerStartedAt), Done: t(st.ReadyAt)},
	}
	notice := ""
	if p := st.PreviousRun; p != nil {
		what := fmt.Sprintf("code-server exited with code %d", p.ExitCode)
		if p.Reason == "OOMKilled" {
			what = "code-server ran out of memory and was killed"
			if p.MemoryLimit != "" {
				what = fmt.Sprintf("code-server ran out of memory (limit %s) and was killed", p.MemoryLimit)
			}
		}
		notice = "Last time, " + what
		if p.FinishedAt != nil {
			notice += " at " + p.FinishedAt.UTC().Format("15:04:05 UTC, Jan 2")
		}
		notice += "."
	}
	return out, notice
}

func orPending(p codehubv1.Phase) codehubv1.Phase {
	if p == "" {
		return codehubv1.PhasePending
	}
	return p
}
