package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/profile"
	"github.com/codehub-dev/codehub/internal/workspacebuild"
)

// Config wires a Backend.
type Config struct {
	// Client talks to the apiserver; its scheme must know codehub.io/v1alpha1.
	Client client.Client
	// Namespace holds the Workspaces.
	Namespace string
	// Defaults is the spec of a new Workspace.
	Defaults codehubv1.WorkspaceSpec
	// ActivityInterval is the least time between two activity writes per workspace.
	ActivityInterval time.Duration
	// Endpoint maps a Running Workspace to the URL the gateway proxies to; StatusEndpoint
	// (the in-cluster Service) when nil. Tests point it at a local code-server.
	Endpoint func(*codehubv1.Workspace) (*url.URL, error)
	// CredentialTTL is how long a workspace's credential, read from its Secret, is used
	// before it is read again (default 1m). Entries are per Workspace UID, so a re-created
	// Workspace (whose credential the operator rotates) is read at once.
	CredentialTTL time.Duration
	// Profiles is the catalog a start resolves the workspace's profile from (nil: the
	// built-in default, which leaves the Workspace's own settings alone).
	Profiles *profile.Catalog
}

// Backend implements backend.Backend and backend.ActivityRecorder with Workspaces.
type Backend struct {
	cfg Config

	mu           sync.Mutex
	lastActivity map[string]time.Time // workspace name → activity time last written

	creds credentialCache

	watchOnce sync.Once
	stopWatch context.CancelFunc // nil until NotifyStops starts the watch
	watchDone chan struct{}
}

// New checks cfg and fills its defaults.
func New(cfg Config) (*Backend, error) {
	if cfg.Client == nil {
		return nil, errors.New("kubernetes backend: no client")
	}
	if cfg.Namespace == "" {
		cfg.Namespace = defaultNamespace()
	}
	if cfg.ActivityInterval <= 0 {
		cfg.ActivityInterval = time.Minute
	}
	if cfg.Endpoint == nil {
		cfg.Endpoint = StatusEndpoint
	}
	if cfg.Profiles == nil {
		cfg.Profiles, _ = profile.New(nil)
	}
	if cfg.CredentialTTL <= 0 {
		cfg.CredentialTTL = time.Minute
	}
	return &Backend{cfg: cfg, lastActivity: map[string]time.Time{}, creds: credentialCache{entries: map[string]credentialEntry{}}}, nil
}

func (b *Backend) key(ref backend.Ref) client.ObjectKey {
	return client.ObjectKey{Namespace: b.cfg.Namespace, Name: ref.FullName()}
}

// Get reports the Workspace.
func (b *Backend) Get(ctx context.Context, ref backend.Ref) (backend.Workspace, error) {
	ws := &codehubv1.Workspace{}
	if err := b.cfg.Client.Get(ctx, b.key(ref), ws); err != nil {
		if apierrors.IsNotFound(err) {
			return backend.Workspace{}, backend.ErrNotFound
		}
		return backend.Workspace{}, err
	}
	return b.view(ctx, ws), nil
}

// Start creates the Workspace from the defaults and the owner's profile, or sets running on
// an existing stopped one with its profile's current definition (profile.go). The
// apiserver's name uniqueness makes concurrent first visits create it once. Notice says when
// the recorded profile was replaced by the default (AnnotationProfileNotice).
func (b *Backend) Start(ctx context.Context, id identity.Identity, named string) (backend.Workspace, error) {
	ref := backend.Ref{User: id.User, Name: named}
	ws := &codehubv1.Workspace{}
	err := b.cfg.Client.Get(ctx, b.key(ref), ws)
	if apierrors.IsNotFound(err) {
		p, _, rerr := b.resolve(ctx, "", id)
		if rerr != nil {
			return backend.Workspace{}, rerr
		}
		ws = b.newWorkspace(id, named)
		b.applyProfile(&ws.Spec, p)
		err = b.cfg.Client.Create(ctx, ws)
		if err == nil {
			return b.view(ctx, ws), nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return backend.Workspace{}, fmt.Errorf("create workspace for %q: %w", id.User, err)
		}
		err = b.cfg.Client.Get(ctx, b.key(ref), ws)
	}
	if err != nil {
		return backend.Workspace{}, err
	}
	if err := checkOwner(ws, ref); err != nil {
		return backend.Workspace{}, err
	}
	if err := b.startStopped(ctx, ws, id); err != nil {
		return backend.Workspace{}, err
	}
	return b.view(ctx, ws), nil
}

// checkOwner refuses a Workspace under ref's name that is not ref's (another user's, or
// another of the user's workspaces): its name is derived, but anyone with edit rights may
// have made it.
func checkOwner(ws *codehubv1.Workspace, ref backend.Ref) error {
	switch {
	case ws.Spec.User != ref.User:
		return fmt.Errorf("workspace %s belongs to %q, not %q", ws.Name, ws.Spec.User, ref.User)
	case workspacebuild.NamedOf(ws) != ref.Name:
		return fmt.Errorf("workspace %s is %q's workspace %q, not %q", ws.Name, ref.User, workspacebuild.NamedOf(ws), ref.Name)
	}
	return nil
}

// newWorkspace is id.User's Workspace called named ("" = the default one), from the
// defaults: a named one carries its name in the LabelWorkspace label, from which the
// operator names its objects (its own home claim).
func (b *Backend) newWorkspace(id identity.Identity, named string) *codehubv1.Workspace {
	ref := backend.Ref{User: id.User, Name: named}
	ws := &codehubv1.Workspace{
		ObjectMeta: metav1.ObjectMeta{Namespace: b.cfg.Namespace, Name: ref.FullName()},
		Spec:       *b.cfg.Defaults.DeepCopy(),
	}
	if named != "" {
		ws.Labels = map[string]string{workspacebuild.LabelWorkspace: named}
	}
	ws.Spec.User, ws.Spec.Running = id.User, true
	if id.UID != nil {
		ws.Spec.UID = id.UID
	}
	if id.GID != nil {
		ws.Spec.GID = id.GID
	}
	return ws
}

// Stop sets running false; the operator scales the pod away and keeps every volume.
func (b *Backend) Stop(ctx context.Context, ref backend.Ref) error {
	ws := &codehubv1.Workspace{}
	if err := b.cfg.Client.Get(ctx, b.key(ref), ws); err != nil {
		return client.IgnoreNotFound(err)
	}
	return b.setRunning(ctx, ws, false)
}

// setRunning patches only spec.running, so it never overwrites concurrent spec edits.
func (b *Backend) setRunning(ctx context.Context, ws *codehubv1.Workspace, running bool) error {
	if ws.Spec.Running == running {
		return nil
	}
	patch := client.MergeFrom(ws.DeepCopy())
	ws.Spec.Running = running
	if err := b.cfg.Client.Patch(ctx, ws, patch); err != nil {
		return fmt.Errorf("set running=%v on workspace %s: %w", running, ws.Name, err)
	}
	return nil
}

// List reports the Workspaces in the namespace.
func (b *Backend) List(ctx context.Context) ([]backend.Workspace, error) {
	list := &codehubv1.WorkspaceList{}
	if err := b.cfg.Client.List(ctx, list, client.InNamespace(b.cfg.Namespace)); err != nil {
		return nil, err
	}
	out := make([]backend.Workspace, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, b.view(ctx, &list.Items[i]))
	}
	return out, nil
}

// Shutdown ends the stop watch; workspaces keep running without the gateway.
func (b *Backend) Shutdown(context.Context) error {
	if b.stopWatch != nil {
		b.stopWatch()
		<-b.watchDone
	}
	return nil
}

// RecordActivity writes status.lastActivityTime at most once per ActivityInterval per
// workspace, so a busy editor does not turn into apiserver load.
func (b *Backend) RecordActivity(ctx context.Context, ref backend.Ref, at time.Time) error {
	key := b.key(ref)
	at = at.Truncate(time.Second) // what metav1.Time keeps
	b.mu.Lock()
	last, seen := b.lastActivity[key.Name]
	if seen && at.Sub(last) < b.cfg.ActivityInterval {
		b.mu.Unlock()
		return nil
	}
	b.lastActivity[key.Name] = at
	b.mu.Unlock()

	ws := &codehubv1.Workspace{}
	if err := b.cfg.Client.Get(ctx, key, ws); err != nil {
		return client.IgnoreNotFound(err)
	}
	if t := ws.Status.LastActivityTime; t != nil && !at.After(t.Time) {
		return nil
	}
	patch := client.MergeFrom(ws.DeepCopy())
	ws.Status.LastActivityTime = &metav1.Time{Time: at}
	if err := b.cfg.Client.Status().Patch(ctx, ws, patch); err != nil {
		b.mu.Lock()
		if b.lastActivity[key.Name].Equal(at) {
			delete(b.lastActivity, key.Name) // let the next call retry
		}
		b.mu.Unlock()
		return fmt.Errorf("record activity on workspace %s: %w", ws.Name, err)
	}
	return nil
}
