package serve

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/client/config"

	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/backend/kubernetes"
	"github.com/codehub-dev/codehub/internal/backend/local"
	"github.com/codehub-dev/codehub/internal/profile"
	"github.com/codehub-dev/codehub/internal/users"
)

// newBackend builds the configured backend.
func newBackend(o Options, store *users.Store, profiles *profile.Catalog, onReady func(time.Duration)) (backend.Backend, error) {
	if o.Backend == "kubernetes" {
		var fc kubernetes.FileConfig
		if o.KubernetesConfig != "" {
			var err error
			if fc, err = kubernetes.LoadFile(o.KubernetesConfig); err != nil {
				return nil, err
			}
		}
		if o.Namespace != "" {
			fc.Namespace = o.Namespace
		}
		rc, err := ctrlconfig.GetConfig()
		if err != nil {
			return nil, fmt.Errorf("kubernetes backend: no cluster config (in-cluster or KUBECONFIG): %w", err)
		}
		c, err := kubernetes.NewClient(rc)
		if err != nil {
			return nil, err
		}
		interval := time.Minute
		if fc.ActivityInterval != "" {
			interval, _ = time.ParseDuration(fc.ActivityInterval)
		}
		return kubernetes.New(kubernetes.Config{Client: c, Namespace: fc.Namespace, Defaults: fc.Workspace, ActivityInterval: interval, Profiles: profiles})
	}
	cfg := local.Config{
		CodeServer: o.CodeServer, Init: o.Init, BuiltinExtensionsDir: o.BuiltinExtensions,
		Dir: filepath.Join(o.StateDir, "workspaces"), ReconnectionGrace: o.ReconnectionGrace,
		StopGrace: o.StopGrace, Logger: o.Logger, OnReady: onReady,
		Isolation: isolation(o), PortProxyURI: portProxyURI(o),
		IdleTimeout: o.IdleTimeout, MaxRunTime: o.MaxRunTime, BusyCPU: o.BusyCPU,
		AgentURL: "unix:" + agentSocket(o.StateDir), PublicURL: o.PublicURL, Profiles: profiles,
	}
	if cfg.Isolation == local.IsolationUIDs {
		cfg.UIDs = func(user string) (int64, bool, error) {
			uid, err := store.AssignUID(user)
			if errors.Is(err, users.ErrNotFound) {
				return 0, false, nil
			}
			return uid, err == nil, err
		}
	}
	return local.New(cfg)
}

// isolation picks how local workspaces are kept apart: one unix uid each as root, else one
// person (or, asked for explicitly, a trusted team sharing the gateway's unix user).
func isolation(o Options) local.Isolation {
	switch {
	case os.Geteuid() == 0:
		return local.IsolationUIDs
	case o.SharedUnixUser:
		return local.IsolationSharedUID
	}
	return local.IsolationSingleUser
}

// portProxyURI is VSCODE_PROXY_URI for a local workspace: its port-preview origin, so VS
// Code's Ports view and "Open in Browser" link there. nil without such origins.
func portProxyURI(o Options) func(string) string {
	var suffix string
	switch {
	case o.WorkspaceOrigins != "":
		suffix = "." + strings.ToLower(o.WorkspaceOrigins)
	case o.TLSCert != "" || o.Secure:
		return nil // one host over TLS: no certificate covers *.localhost
	default:
		_, port, err := net.SplitHostPort(o.Listen)
		if err != nil {
			return nil
		}
		suffix = ".localhost:" + port
	}
	return func(workspace string) string { return "//p{{port}}--" + workspace + suffix + "/" }
}

// agentSocket is where local workspaces reach the gateway's agent API (the codehub
// extension): a unix socket any local uid may connect to; the agent token authenticates.
func agentSocket(stateDir string) string { return filepath.Join(stateDir, "run", "agent.sock") }

// listenAgent opens the agent socket (the run dir exists: the local backend made it).
func listenAgent(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o711); err != nil {
		return nil, err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("agent socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("agent socket: %w", err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// warnBuiltinExtensions says once, at start, which pinned extensions workspaces will lack:
// scripts/fetch-extensions.sh (make run) leaves the pins in <dir>/PINS and a VSIX for each
// one it could fetch; without the gallery there are none, and make run still works.
func warnBuiltinExtensions(dir string, log *slog.Logger) {
	if dir == "" {
		log.Info("builtin extensions: none (no --builtin-extensions-dir): workspaces get only the codehub extension")
		return
	}
	data, err := os.ReadFile(filepath.Join(dir, "PINS"))
	if err != nil {
		return // a directory made by hand or an image: no pins to compare with
	}
	var missing []string
	total := 0
	for _, line := range strings.Split(string(data), "\n") {
		spec, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		if spec == "" || strings.HasPrefix(spec, "#") {
			continue
		}
		total++
		id, version, _ := strings.Cut(spec, "@")
		if m, _ := filepath.Glob(filepath.Join(dir, "*-"+id+"-"+version+".vsix")); len(m) == 0 {
			missing = append(missing, spec)
		}
	}
	if len(missing) > 0 {
		log.Warn(fmt.Sprintf("builtin extensions: %d of %d pinned extensions are not in %s (the extension gallery was not reachable, or a checksum is not pinned, when scripts/fetch-extensions.sh ran); workspaces start without them", len(missing), total, dir),
			"missing", strings.Join(missing, ","))
	}
}
