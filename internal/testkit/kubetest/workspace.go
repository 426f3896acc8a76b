package kubetest

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/identity"
)

// WorkspaceOption modifies a Workspace that Workspace builds.
type WorkspaceOption func(*codehubv1.Workspace)

// Workspace builds the Workspace of user as the gateway would create it: named
// identity.WorkspaceName(user) and running, changed by opts in order. A test states only
// what it is about, e.g. Workspace("alice", InNamespace(ns), WithIdleTimeout(time.Hour)).
func Workspace(user string, opts ...WorkspaceOption) *codehubv1.Workspace {
	ws := &codehubv1.Workspace{}
	ws.Name = identity.WorkspaceName(user)
	ws.Spec.User, ws.Spec.Running = user, true
	for _, o := range opts {
		o(ws)
	}
	return ws
}

// InNamespace puts the Workspace in namespace ns.
func InNamespace(ns string) WorkspaceOption {
	return func(ws *codehubv1.Workspace) { ws.Namespace = ns }
}

// Named gives the Workspace another name than the user's own.
func Named(name string) WorkspaceOption {
	return func(ws *codehubv1.Workspace) { ws.Name = name }
}

// WithUID sets the object's UID (which owner references of built objects carry).
func WithUID(uid types.UID) WorkspaceOption {
	return func(ws *codehubv1.Workspace) { ws.UID = uid }
}

// Stopped sets running to false.
func Stopped() WorkspaceOption {
	return func(ws *codehubv1.Workspace) { ws.Spec.Running = false }
}

// WithIdleTimeout sets spec.idleTimeout.
func WithIdleTimeout(d time.Duration) WorkspaceOption {
	return func(ws *codehubv1.Workspace) { ws.Spec.IdleTimeout = &metav1.Duration{Duration: d} }
}

// WithMaxRunTime sets spec.maxRunTime.
func WithMaxRunTime(d time.Duration) WorkspaceOption {
	return func(ws *codehubv1.Workspace) { ws.Spec.MaxRunTime = &metav1.Duration{Duration: d} }
}

// With applies mutate, for the fields no named option covers. A nil mutate does nothing,
// so table tests can pass their optional mutation straight through.
func With(mutate func(*codehubv1.Workspace)) WorkspaceOption {
	return func(ws *codehubv1.Workspace) {
		if mutate != nil {
			mutate(ws)
		}
	}
}
