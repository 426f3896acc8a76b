// Package kubernetes is the gateway's backend for clusters: each user's workspace is a
// codehub.io Workspace that the operator reconciles; this package only creates it, flips
// spec.running and reads status.
package kubernetes

import (
	"fmt"
	"net/url"
	"os"
	"time"

	"sigs.k8s.io/yaml"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
)

// FileConfig is the gateway's Kubernetes backend configuration file (YAML or JSON).
type FileConfig struct {
	// Namespace holds the Workspaces (the gateway's own namespace when empty).
	Namespace string `json:"namespace,omitempty"`
	// Workspace is the spec every new Workspace starts from; user, uid, gid and running
	// are set by the backend.
	Workspace codehubv1.WorkspaceSpec `json:"workspace,omitempty"`
	// ActivityInterval bounds how often activity is written to a Workspace (default 1m).
	ActivityInterval string `json:"activityInterval,omitempty"`
}

// LoadFile reads a FileConfig; unknown keys are errors, so a typo is not silently ignored.
func LoadFile(path string) (FileConfig, error) {
	var fc FileConfig
	b, err := os.ReadFile(path)
	if err != nil {
		return fc, fmt.Errorf("kubernetes backend config: %w", err)
	}
	if err := yaml.UnmarshalStrict(b, &fc); err != nil {
		return fc, fmt.Errorf("kubernetes backend config %s: %w", path, err)
	}
	if fc.ActivityInterval != "" {
		if _, err := time.ParseDuration(fc.ActivityInterval); err != nil {
			return fc, fmt.Errorf("kubernetes backend config %s: activityInterval: %w", path, err)
		}
	}
	return fc, nil
}

// inClusterNamespace is where a pod's ServiceAccount lives; the default namespace.
const inClusterNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

func defaultNamespace() string {
	if b, err := os.ReadFile(inClusterNamespace); err == nil && len(b) > 0 {
		return string(b)
	}
	return "default"
}

// StatusEndpoint is the default Endpoint: the Service URL the operator reports.
func StatusEndpoint(ws *codehubv1.Workspace) (*url.URL, error) {
	if ws.Status.URL == "" {
		return nil, fmt.Errorf("workspace %s has no status.url yet", ws.Name)
	}
	return url.Parse(ws.Status.URL)
}
