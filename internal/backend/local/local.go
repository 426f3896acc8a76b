// Package local runs each user's workspace as a code-server process on this machine, with
// its own home, settings and extensions. code-server opens no TCP port: it listens on a
// unix socket in a directory only its unix user (and the gateway) can open, and it answers
// only requests that carry the workspace's credential, which the gateway alone holds.
package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/idle"
	"github.com/codehub-dev/codehub/internal/profile"
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
	// Isolation is how workspaces are kept apart (see Isolation); the zero value is
	// IsolationUIDs when the gateway runs as root and IsolationSingleUser otherwise.
	Isolation Isolation
	// UIDs allocates local users' unix uids in uid mode; nil = platform ids only.
	UIDs UIDSource
	// RuntimeDir receives copies of CodeServer's tree, Init and BuiltinExtensionsDir that
	// workspace uids can reach, when they cannot reach the originals (uid mode only).
	RuntimeDir string
	// SocketDir holds one directory per running workspace with code-server's socket
	// (default <Dir>/../run: short, because a socket path has at most 107 bytes).
	SocketDir string
	// PortProxyURI returns VSCODE_PROXY_URI for a workspace (its port-preview origin with
	// "{{port}}"), so VS Code's Ports view links there; nil = none.
	PortProxyURI func(workspace string) string
	// IdleTimeout stops a running workspace after this long without activity (0 = never);
	// MaxRunTime after this long running, busy or not (0 = never). See idle.go.
	IdleTimeout, MaxRunTime time.Duration
	// BusyCPU is the CPU use, in cores, above which a workspace's processes count as
	// activity (0 = CPU never counts; New defaults it to DefaultBusyCPU, <0 turns it off).
	BusyCPU float64
	// CheckInterval is how often deadlines are checked and CPU sampled (default: a tenth of
	// the shorter timeout, between 1 s and 30 s).
	CheckInterval time.Duration
	// Clock is the idle stop's clock (default the system clock).
	Clock idle.Clock
	// AgentURL is the gateway's agent API as workspaces reach it (CODEHUB_AGENT_URL, e.g.
	// unix:<state>/run/agent.sock); PublicURL the gateway as browsers reach it. Both go to
	// the codehub extension; empty = not set.
	AgentURL, PublicURL string
	// Profiles is the catalog a start resolves the workspace's profile from (nil: the
	// built-in default). See profile.go for what applies locally.
	Profiles *profile.Catalog
}

// Backend is the local process backend. Safe for concurrent use.
type Backend struct {
	cfg       Config
	mu        sync.Mutex
	ws        map[string]*instance // by workspace name
	deleting  map[string]bool      // workspace names Delete is removing
	onStop    []func(ref backend.Ref, reason string)
	stopWatch context.CancelFunc
	watchDone chan struct{}
}

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
	if cfg.Clock == nil {
		cfg.Clock = idle.SystemClock{}
	}
	if cfg.Profiles == nil {
		cfg.Profiles, _ = profile.New(nil)
	}
	switch {
	case cfg.BusyCPU == 0:
		cfg.BusyCPU = DefaultBusyCPU
	case cfg.BusyCPU < 0:
		cfg.BusyCPU = 0
	}
	if cfg.Isolation == "" {
		cfg.Isolation = IsolationSingleUser
		if os.Geteuid() == 0 {
			cfg.Isolation = IsolationUIDs
		}
	}
	if cfg.SocketDir == "" {
		cfg.SocketDir = filepath.Join(filepath.Dir(cfg.Dir), "run")
	}
	if n := len(filepath.Join(cfg.SocketDir, "0123456789ab", socketName)); n > maxSocketPath { // a named workspace's 12 hex
		return nil, fmt.Errorf("socket dir %s is too long for unix sockets (%d > %d bytes): use a shorter --state-dir", cfg.SocketDir, n, maxSocketPath)
	}
	if err := checkIsolation(&cfg); err != nil {
		return nil, err
	}
	b := &Backend{cfg: cfg, ws: map[string]*instance{}, deleting: map[string]bool{}, watchDone: make(chan struct{})}
	b.stopOrphans()
	ctx, cancel := context.WithCancel(context.Background())
	b.stopWatch = cancel
	go b.watch(ctx)
	return b, nil
}

// checkIsolation prepares the directories and executables for the isolation mode.
func checkIsolation(cfg *Config) error {
	switch cfg.Isolation {
	case IsolationSingleUser, IsolationSharedUID:
		if os.Geteuid() == 0 {
			return fmt.Errorf("isolation %q would run workspaces as root: as root every workspace gets its own unix uid", cfg.Isolation)
		}
		for _, d := range []string{cfg.Dir, cfg.SocketDir} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				return fmt.Errorf("workspaces dir: %w", err)
			}
		}
		return nil
	case IsolationUIDs:
	default:
		return fmt.Errorf("unknown isolation %q", cfg.Isolation)
	}
	if os.Geteuid() != 0 {
		return errors.New("one unix uid per workspace needs the gateway to run as root")
	}
	// Workspace uids must reach their own directories and nothing else: 0711 on the way.
	for _, d := range []string{cfg.Dir, cfg.SocketDir} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return fmt.Errorf("workspaces dir: %w", err)
		}
		if err := os.Chmod(d, 0o711); err != nil {
			return err
		}
	}
	if d := notTraversable(cfg.Dir); d != "" {
		return fmt.Errorf("workspace users cannot reach %s: %s is not searchable by others (mode %s); "+
			"use a state dir outside it, e.g. --state-dir /var/lib/codehub (make run does that as root)", cfg.Dir, d, modeOf(d))
	}
	if cfg.RuntimeDir == "" {
		cfg.RuntimeDir = filepath.Join(filepath.Dir(cfg.Dir), "runtime")
	}
	var err error
	if cfg.CodeServer, err = stageLauncher(cfg.RuntimeDir, cfg.CodeServer); err != nil {
		return err
	}
	if cfg.Init != "" {
		if cfg.Init, err = stageFile(cfg.RuntimeDir, cfg.Init); err != nil {
			return fmt.Errorf("stage codehub-init: %w", err)
		}
	}
	if cfg.BuiltinExtensionsDir != "" {
		if cfg.BuiltinExtensionsDir, err = stageTree(cfg.RuntimeDir, "extensions", cfg.BuiltinExtensionsDir); err != nil {
			return err
		}
	}
	return nil
}

// stageLauncher stages the tree a code-server launcher belongs to (its directory, or the
// parent of a bin/ directory, as in code-server's standalone release) and returns the
// launcher's path inside the staged tree.
func stageLauncher(runtime, launcher string) (string, error) {
	path, err := exec.LookPath(launcher)
	if err != nil {
		return "", fmt.Errorf("code-server launcher %q: %w", launcher, err)
	}
	if path, err = filepath.EvalSymlinks(path); err != nil {
		return "", err
	}
	root := filepath.Dir(path)
	if filepath.Base(root) == "bin" {
		root = filepath.Dir(root)
	}
	staged, err := stageTree(runtime, "code-server", root)
	if err != nil {
		return "", err
	}
	rel, _ := filepath.Rel(root, path)
	return filepath.Join(staged, rel), nil
}

func modeOf(path string) string {
	if st, err := os.Stat(path); err == nil {
		return fmt.Sprintf("%#o", st.Mode().Perm())
	}
	return "unknown"
}

func (b *Backend) dirOf(name string) string { return filepath.Join(b.cfg.Dir, name) }

// sockDirOf names a workspace's socket directory by the hash part of its name (unique as
// the name is, and short).
func (b *Backend) sockDirOf(name string) string {
	return filepath.Join(b.cfg.SocketDir, name[strings.LastIndexByte(name, '-')+1:])
}

// Get reports the workspace without side effects.
func (b *Backend) Get(_ context.Context, ref backend.Ref) (backend.Workspace, error) {
	name := ref.FullName()
	b.mu.Lock()
	inst := b.ws[name]
	b.mu.Unlock()
	if inst != nil {
		return inst.snapshot(), nil
	}
	if _, err := os.Stat(b.dirOf(name)); err != nil {
		return backend.Workspace{}, backend.ErrNotFound
	}
	w := backend.Workspace{Name: name, User: ref.User, Named: ref.Name, State: backend.StateStopped}
	if rec, err := readOwner(b.dirOf(name)); err == nil {
		w.Profile, w.Created = rec.Profile, rec.Created
	}
	return w, nil
}

// Start starts the workspace once, however many callers ask at the same time.
func (b *Backend) Start(ctx context.Context, id identity.Identity, named string) (backend.Workspace, error) {
	name := backend.Ref{User: id.User, Name: named}.FullName()
	b.mu.Lock()
	if b.deleting[name] {
		b.mu.Unlock()
		return backend.Workspace{Name: name, User: id.User, Named: named, State: backend.StateStopping}, errors.New("the workspace is being deleted; try again in a moment")
	}
	inst := b.ws[name]
	if inst == nil {
		inst = &instance{name: name, user: id.User, named: named, dir: b.dirOf(name), sockDir: b.sockDirOf(name), cfg: &b.cfg, state: backend.StateStopped}
		if rec, err := readOwner(inst.dir); err == nil {
			inst.recorded, inst.created = rec.Profile, rec.Created
		}
		b.ws[name] = inst
	}
	b.mu.Unlock()
	err := inst.start(func() (*syscall.Credential, error) {
		cred, err := b.credentialFor(id, named, inst.dir)
		if err != nil {
			return nil, err
		}
		return cred, b.chooseProfile(ctx, id, inst)
	})
	return inst.snapshot(), err
}

// Stop stops the user's workspace (SIGTERM, then SIGKILL after the grace period) and
// waits for it to exit. Files, settings and extensions stay on disk.
func (b *Backend) Stop(ctx context.Context, ref backend.Ref) error {
	name := ref.FullName()
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
		rec, err := readOwner(filepath.Join(b.cfg.Dir, e.Name()))
		if err != nil || rec.User == "" {
			continue
		}
		out = append(out, backend.Workspace{Name: e.Name(), User: rec.User, Named: rec.Workspace, State: backend.StateStopped, Profile: rec.Profile, Created: rec.Created})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Shutdown stops every workspace this backend started, in parallel.
func (b *Backend) Shutdown(ctx context.Context) error {
	b.stopWatch()
	<-b.watchDone
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

// socketURL is the endpoint of a workspace listening on a unix socket.
func socketURL(path string) *url.URL {
	return &url.URL{Scheme: "unix", Path: path}
}
