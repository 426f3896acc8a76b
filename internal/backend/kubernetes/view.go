package kubernetes

import (
	"context"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/workspacebuild"
)

// view maps a Workspace to the gateway's view. A spec the operator has not observed yet
// reports where it is going, so a just-started workspace never reads as Stopped. A Running
// workspace is only reported Running together with its credential.
func (b *Backend) view(ctx context.Context, ws *codehubv1.Workspace) backend.Workspace {
	w := backend.Workspace{Name: ws.Name, User: ws.Spec.User, State: backend.State(ws.Status.Phase), Message: ws.Status.Message}
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
	if w.State != backend.StateRunning {
		b.creds.forget(ws.Name)
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

func orPending(p codehubv1.Phase) codehubv1.Phase {
	if p == "" {
		return codehubv1.PhasePending
	}
	return p
}
