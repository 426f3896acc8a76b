// Package local runs each user's workspace as a code-server process on this machine,
// bound to loopback on a free port, with its own home, settings and extensions.
package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/identity"
)

// Config says how to launch workspaces.
type Config struct {
	// CodeServer is the code-server launcher.
	CodeServer string
	// Init, when set, is the codehub-init binary: it prepares settings and extensions and
	// then execs code-server. Without it code-server is started directly.
	Init string
	// BuiltinExtensionsDir is passed to codehub-init (pinned extensions to sync).
	BuiltinExtensionsDir string
	// Dir holds one directory per workspace.
	Dir string
	// ReconnectionGrace is code-server's --reconnection-grace-time: how long a closed
	// tab's extension host lives on.
	ReconnectionGrace time.Duration
	// StopGrace is how long a workspace gets between SIGTERM and SIGKILL.
	StopGrace time.Duration
	// StartTimeout bounds how long a start may take before it counts as failed.
	StartTimeout time.Duration
	Logger       *slog.Logger
	// OnReady is called with the time from spawn to a healthy /healthz.
	OnReady func(time.Duration)
}

// Backend is the local process backend. Safe for concurrent use.
type Backend struct {
	cfg      Config
	mu       sync.Mutex
	ws       map[string]*instance // by workspace name
	warnOnce sync.Once
}

var _ backend.Backend = (*Backend)(nil)

// New prepares the backend and stops code-server processes left behind by a previous
// gateway that died without cleaning up, so no workspace ever runs twice.
func New(cfg Config) (*Backend, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.StopGrace <= 0 {
		cfg.StopGrace = 10 * time.Second
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 2 * time.Minute
	}
	if cfg.ReconnectionGrace <= 0 {
		cfg.ReconnectionGrace = 5 * time.Minute
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("workspaces dir: %w", err)
	}
	b := &Backend{cfg: cfg, ws: map[string]*instance{}}
	b.stopOrphans()
	return b, nil
}

func (b *Backend) dirOf(name string) string { return filepath.Join(b.cfg.Dir, name) }

// credentialFor returns the unix ids to run id's workspace as: the platform's uid/gid
// when the gateway runs as root (it can switch), nil otherwise (run as the gateway's
// own user, logged once).
func (b *Backend) credentialFor(id identity.Identity) *syscall.Credential {
	if id.UID == nil {
		return nil
	}
	if os.Geteuid() != 0 {
		b.warnOnce.Do(func() {
			b.cfg.Logger.Warn("identity carries a unix uid but the gateway is not root: workspaces run as the gateway's user")
		})
		return nil
	}
	gid := *id.UID
	if id.GID != nil {
		gid = *id.GID
	}
	if *id.UID <= 0 || gid < 0 || *id.UID > 1<<31 || gid > 1<<31 {
		return nil // never run a workspace as root from an identity
	}
	return &syscall.Credential{Uid: uint32(*id.UID), Gid: uint32(gid), NoSetGroups: true}
}

// Get reports the user's workspace without side effects.
func (b *Backend) Get(_ context.Context, user string) (backend.Workspace, error) {
	name := identity.WorkspaceName(user)
	b.mu.Lock()
	inst := b.ws[name]
	b.mu.Unlock()
	if inst != nil {
		return inst.snapshot(), nil
	}
	if _, err := os.Stat(b.dirOf(name)); err != nil {
		return backend.Workspace{}, backend.ErrNotFound
	}
	return backend.Workspace{Name: name, User: user, State: backend.StateStopped}, nil
}

// Start starts the user's workspace once, however many callers ask at the same time.
func (b *Backend) Start(_ context.Context, id identity.Identity) (backend.Workspace, error) {
	name := identity.WorkspaceName(id.User)
	b.mu.Lock()
	inst := b.ws[name]
	if inst == nil {
		inst = &instance{name: name, user: id.User, dir: b.dirOf(name), cfg: &b.cfg, state: backend.StateStopped}
		b.ws[name] = inst
	}
	b.mu.Unlock()
	if err := inst.start(b.credentialFor(id)); err != nil {
		return inst.snapshot(), err
	}
	return inst.snapshot(), nil
}

// Stop stops the user's workspace (SIGTERM, then SIGKILL after the grace period) and
// waits for it to exit. Files, settings and extensions stay on disk.
func (b *Backend) Stop(ctx context.Context, user string) error {
	name := identity.WorkspaceName(user)
	b.mu.Lock()
	inst := b.ws[name]
	b.mu.Unlock()
	if inst == nil {
		return nil
	}
	return inst.stop(ctx)
}

// List reports the workspaces this backend runs or has on disk.
func (b *Backend) List(_ context.Context) ([]backend.Workspace, error) {
	b.mu.Lock()
	seen := make(map[string]bool, len(b.ws))
	out := make([]backend.Workspace, 0, len(b.ws))
	for name, inst := range b.ws {
		seen[name] = true
		out = append(out, inst.snapshot())
	}
	b.mu.Unlock()
	entries, err := os.ReadDir(b.cfg.Dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if !e.IsDir() || seen[e.Name()] {
			continue
		}
		owner, err := os.ReadFile(filepath.Join(b.cfg.Dir, e.Name(), ownerFile))
		if err != nil {
			continue
		}
		out = append(out, backend.Workspace{Name: e.Name(), User: strings.TrimSpace(string(owner)), State: backend.StateStopped})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Shutdown stops every workspace this backend started, in parallel.
func (b *Backend) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	all := make([]*instance, 0, len(b.ws))
	for _, inst := range b.ws {
		all = append(all, inst)
	}
	b.mu.Unlock()
	var wg sync.WaitGroup
	errs := make([]error, len(all))
	for i, inst := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = inst.stop(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// endpointURL is the loopback address of a workspace listening on port.
func endpointURL(port int) *url.URL {
	return &url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", port)}
}
