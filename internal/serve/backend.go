package serve

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/client/config"

	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/backend/kubernetes"
	"github.com/codehub-dev/codehub/internal/backend/local"
	"github.com/codehub-dev/codehub/internal/users"
)

// newBackend builds the configured backend.
func newBackend(o Options, store *users.Store, onReady func(time.Duration)) (backend.Backend, error) {
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
		return kubernetes.New(kubernetes.Config{Client: c, Namespace: fc.Namespace, Defaults: fc.Workspace, ActivityInterval: interval})
	}
	cfg := local.Config{
		CodeServer: o.CodeServer, Init: o.Init, BuiltinExtensionsDir: o.BuiltinExtensions,
		Dir: filepath.Join(o.StateDir, "workspaces"), ReconnectionGrace: o.ReconnectionGrace,
		StopGrace: o.StopGrace, Logger: o.Logger, OnReady: onReady,
		Isolation: isolation(o), PortProxyURI: portProxyURI(o),
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
