package helm

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/codehub-dev/codehub/internal/backend/kubernetes"
)

// defaultsFile writes the workspace-defaults.yaml of a rendered ConfigMap to a file.
func defaultsFile(t *testing.T, cm *unstructured.Unstructured) string {
	t.Helper()
	if cm == nil {
		t.Fatal("no workspace-defaults ConfigMap")
	}
	data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
	path := filepath.Join(t.TempDir(), "workspace-defaults.yaml")
	if err := os.WriteFile(path, []byte(data["workspace-defaults.yaml"]), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestWorkspaceDefaultsLoad: the ConfigMap the chart renders is accepted by the gateway's own
// loader (kubernetes.LoadFile, strict: an unknown key is an error) and carries the values.
func TestWorkspaceDefaultsLoad(t *testing.T) {
	h := newHelm(t)
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			cm := find(objects(t, h.template(t, s)), "ConfigMap", release+"-codehub-workspace-defaults")
			fc, err := kubernetes.LoadFile(defaultsFile(t, cm))
			if err != nil {
				t.Fatalf("the gateway rejects the chart's workspace defaults: %v", err)
			}
			if fc.Namespace != namespace {
				t.Errorf("namespace = %q, want %q", fc.Namespace, namespace)
			}
			if fc.ActivityInterval != "1m" {
				t.Errorf("activityInterval = %q, want 1m", fc.ActivityInterval)
			}
			w := fc.Workspace
			if w.Image == "" || w.IdleTimeout == nil || w.IdleTimeout.Duration.Hours() != 1 {
				t.Errorf("image %q / idleTimeout %v not set from the values", w.Image, w.IdleTimeout)
			}
			if w.Resources.Limits.Memory().String() != "4Gi" {
				t.Errorf("resources.limits.memory = %s, want 4Gi", w.Resources.Limits.Memory())
			}
			switch s.name {
			case "v3io", "single-user":
				if len(w.Mounts) != 1 || w.Mounts[0].V3IO == nil || w.Mounts[0].V3IO.SecretRef.Name == "" {
					t.Errorf("v3io on: want one v3io mount with a secret, got %+v", w.Mounts)
				}
				if w.Conda == nil || len(w.Conda.EnvsDirs) == 0 {
					t.Errorf("conda envsDirs missing: %+v", w.Conda)
				}
				if want := s.name == "v3io"; want != (len(w.Extensions) == 1 && w.Extensions[0] == "ms-toolsai.jupyter") {
					t.Errorf("extensions from the values: %+v", w.Extensions)
				}
			default:
				if len(w.Mounts) != 0 {
					t.Errorf("v3io off: want no mounts, got %+v", w.Mounts)
				}
				if w.Home.PVC == nil || w.Home.PVC.Size == nil || w.Home.PVC.Size.String() != "10Gi" {
					t.Errorf("home PVC size not 10Gi: %+v", w.Home.PVC)
				}
			}
			if s.name == "single-user" && w.Image != "vscode:latest" {
				t.Errorf("single-user image = %q, want the seed's vscode:latest", w.Image)
			}
		})
	}
}
