// Package backend defines how the gateway starts, stops and finds users' workspaces.
// Implementations: local (code-server processes on this machine) and kubernetes
// (Workspace custom resources reconciled by the operator).
package backend

import (
	"context"
	"errors"
	"net"
	"net/url"
	"time"

	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/idle"
)

// State is the lifecycle phase of a workspace, shared with the Workspace CRD's status.phase.
type State string

const (
	StatePending  State = "Pending" // exists, never started
	StateStarting State = "Starting"
	StateRunning  State = "Running" // healthy: Endpoint answers /healthz
	StateStopping State = "Stopping"
	StateStopped  State = "Stopped"
	StateFailed   State = "Failed"
)

// Ref names one workspace: its owner and, for a named workspace, its name among the
// owner's ("" = the user's default workspace, the one every user had before named ones).
// It is what every backend method and the gateway's route table key by.
type Ref struct {
	User string
	Name string
}

// Default is the reference to user's default workspace.
func Default(user string) Ref { return Ref{User: user} }

// FullName is the workspace's deterministic name (state directory, Workspace object, host
// label): identity.WorkspaceName for the default, so no existing workspace moves.
func (r Ref) FullName() string {
	if r.Name == "" {
		return identity.WorkspaceName(r.User)
	}
	return identity.NamedWorkspaceName(r.User, r.Name)
}

// String is the reference as logs and messages show it: "alice" or "alice/dev".
func (r Ref) String() string {
	if r.Name == "" {
		return r.User
	}
	return r.User + "/" + r.Name
}

// Workspace is the gateway's view of one user's workspace.
type Workspace struct {
	Name string // Ref().FullName()
	User string // exact platform user name
	// Named is the workspace's name among its owner's ("" = the default workspace).
	Named string
	State State // current phase
	// Endpoint is where code-server answers; set only when State is Running. Scheme "http"
	// is a TCP address; scheme "unix" is a unix socket at Endpoint.Path (the local backend:
	// no TCP listener for code-server at all).
	Endpoint *url.URL
	// Credential is the per-workspace secret the gateway presents on every upstream request
	// as code-server's session cookie (CodeServerCookie): code-server runs with
	// --auth password and HASHED_PASSWORD set to it, so nothing that reaches the endpoint
	// without it gets a byte of code-server. It never reaches a browser. "" = none.
	Credential string
	Message    string // human-readable detail (why it failed, what it waits for)
	// LastActivity is the workspace's one stored activity mark: the last time a person
	// worked in it (typed, saved, used a terminal, opened it, pressed "Keep running"), it
	// started, or busy work ran in it. Zero if unknown. The idle stop is decided from it
	// alone, and the API reports it.
	LastActivity time.Time
	// IdleTimeout is the idle timeout that applies to this workspace (0 = never idle-stopped).
	IdleTimeout time.Duration
	// StopsAt is when the workspace will be stopped unless activity comes first: its idle
	// deadline, or the end of its maximum run time when that is earlier (zero = never, or
	// not running). StopReason says which.
	StopsAt    time.Time
	StopReason string
	// Steps are the steps of the current start as the cluster reports them, in order (the
	// kubernetes backend: scheduling, creating the container, starting code-server); nil
	// when the backend has none to tell.
	Steps []Step
	// Notice tells how the run before this start ended, when that matters to the user
	// (e.g. code-server ran out of memory); "" otherwise.
	Notice string
	// Profile is the name of the profile the workspace runs with ("" = the catalog's default).
	Profile string
	// Created is when the workspace was first created (zero if unknown).
	Created time.Time
}

// Ref is the reference to ws.
func (ws Workspace) Ref() Ref { return Ref{User: ws.User, Name: ws.Named} }

// Step is one step of a workspace's start. Started and Done are zero until they happen.
type Step struct {
	Name          string
	Started, Done time.Time
}

// Why a running workspace will be stopped (Workspace.StopReason).
const (
	StopIdle       = idle.StopIdle
	StopMaxRunTime = idle.StopMaxRunTime
)

// CodeServerCookie is the cookie code-server reads its session from (no --cookie-suffix).
const CodeServerCookie = "code-server-session"

// ErrNotFound means the workspace does not exist (yet).
var ErrNotFound = errors.New("workspace not found")

// ErrRefused means the backend will not start this workspace as asked (it would break
// isolation, e.g. no unix uid is known for the user); the message says why and what to do.
var ErrRefused = errors.New("workspace refused")

// Backend starts, stops and locates workspaces. All methods are safe for concurrent use
// and idempotent; none blocks until a workspace is ready.
type Backend interface {
	// Get reports the workspace; ErrNotFound if it was never created.
	Get(ctx context.Context, ref Ref) (Workspace, error)
	// Start creates id.User's workspace called name ("" = the default) if needed and begins
	// starting it. Concurrent calls for the same workspace start it once. Limits on how
	// many a user may have are the gateway's; the name was checked
	// (identity.CheckWorkspaceName).
	Start(ctx context.Context, id identity.Identity, name string) (Workspace, error)
	// Stop stops the workspace and keeps all of its data.
	Stop(ctx context.Context, ref Ref) error
	// List reports every workspace the backend knows.
	List(ctx context.Context) ([]Workspace, error)
	// Shutdown releases the backend's resources when the gateway exits; the local
	// backend stops the processes it started.
	Shutdown(ctx context.Context) error
}

// PortDialer is implemented by backends whose workspaces' own ports the gateway connects to
// itself (local: the host's loopback, where the connection is checked to be accepted by
// the workspace's own unix user). Backends without it are reached through code-server's
// /proxy/<port>/ route inside the workspace (Kubernetes: the pod's own loopback).
type PortDialer interface {
	DialPort(ctx context.Context, ref Ref, port int) (net.Conn, error)
}

// ActivityRecorder stores activity: the gateway hands it what people do in a workspace,
// "Keep running" and busy reports from inside it. The local backend keeps it in memory and
// stops idle workspaces itself; the kubernetes backend writes status.lastActivityTime at a
// bounded rate, from which the operator alone stops them.
type ActivityRecorder interface {
	RecordActivity(ctx context.Context, ref Ref, at time.Time) error
}

// ProfileSetter is implemented by backends that apply profiles: SetProfile records the
// profile the workspace runs with from its next start (ErrNotFound-free: it may be
// called before the first start). The caller has checked that the user may use it.
type ProfileSetter interface {
	SetProfile(ctx context.Context, ref Ref, profile string) error
}

type profileCheckedKey struct{}

// WithProfileChecked marks a Start by a caller who has allowed the workspace's recorded
// profile itself (an admin starting someone else's workspace: the caller does not know the
// owner's groups), so the backend does not check it again against the identity it is given.
func WithProfileChecked(ctx context.Context) context.Context {
	return context.WithValue(ctx, profileCheckedKey{}, true)
}

// ProfileChecked reports whether ctx carries WithProfileChecked.
func ProfileChecked(ctx context.Context) bool {
	v, _ := ctx.Value(profileCheckedKey{}).(bool)
	return v
}

// Deleter is implemented by backends that can delete a workspace: it is stopped and its
// record removed, and so are its files (home volume) — callers must tell the user so first.
type Deleter interface {
	Delete(ctx context.Context, ref Ref) error
}

// DeleteDescriber is implemented by Deleters that can say, before deleting, what Delete does
// to the user's files (kept or removed, and where), in words for the user.
type DeleteDescriber interface {
	DeleteEffect(ctx context.Context, ref Ref) (string, error)
}

// StopNotifier is implemented by backends that stop workspaces by themselves (the local
// backend's idle stop): fn is called with the workspace before the workspace goes away, so the
// gateway drops its route and tells the open tabs at once. reason is the backend's own stop
// (StopIdle, StopMaxRunTime), or "" for a stop decided elsewhere (on Kubernetes: the
// operator, another replica, kubectl — recorded there, so not counted or audited again).
type StopNotifier interface {
	NotifyStops(fn func(ref Ref, reason string))
}
