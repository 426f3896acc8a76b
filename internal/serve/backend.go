package serve

import (
	"fmt"
	"path/filepath"
	"time"

	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/client/config"

	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/backend/kubernetes"
	"github.com/codehub-dev/codehub/internal/backend/local"
)

// newBackend builds the configured backend.
func newBackend(o Options, onReady func(time.Duration)) (backend.Backend, error) {
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
	return local.New(local.Config{
		CodeServer: o.CodeServer, Init: o.Init, BuiltinExtensionsDir: o.BuiltinExtensions,
		Dir: filepath.Join(o.StateDir, "workspaces"), ReconnectionGrace: o.ReconnectionGrace,
		StopGrace: o.StopGrace, Logger: o.Logger, OnReady: onReady,
	})
}
