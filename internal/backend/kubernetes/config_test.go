package kubernetes_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codehub-dev/codehub/internal/backend/kubernetes"
)

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte(`namespace: default-tenant
activityInterval: 2m
workspace:
  image: registry.example/codehub-workspace:1.0
  home: {pvc: {size: 20Gi, reclaimPolicy: Delete}}
  conda: {envsDirs: [/User/.conda/envs]}
  idleTimeout: 2h
`), 0o644); err != nil {
		t.Fatal(err)
	}
	fc, err := kubernetes.LoadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	if fc.Namespace != "default-tenant" || fc.Workspace.Image != "registry.example/codehub-workspace:1.0" ||
		fc.Workspace.Home.PVC.Size.String() != "20Gi" || fc.Workspace.IdleTimeout.Duration.String() != "2h0m0s" {
		t.Fatalf("loaded %+v", fc)
	}
	typo := filepath.Join(dir, "typo.yaml")
	if err := os.WriteFile(typo, []byte("workspace:\n  imagee: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := kubernetes.LoadFile(typo); err == nil || !strings.Contains(err.Error(), "imagee") {
		t.Fatalf("typo accepted: %v", err)
	}
}
