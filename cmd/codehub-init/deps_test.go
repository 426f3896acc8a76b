package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/codehub-dev/codehub/internal/testkit"
)

// codehub-init runs before every workspace start: it must stay a small, fast binary that
// only writes files. A Kubernetes client (or any other heavy module) sneaking in fails here.
func TestNoHeavyDependencies(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", ".")
	cmd.Dir = testkit.RepoRoot(t) + "/cmd/codehub-init"
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	allowed := map[string]bool{"gopkg.in/yaml.v3": true}
	for _, pkg := range strings.Fields(string(out)) {
		first := strings.SplitN(pkg, "/", 2)[0]
		if !strings.Contains(first, ".") || strings.HasPrefix(pkg, "github.com/codehub-dev/codehub/") || allowed[pkg] {
			continue // standard library, this repository, or allowed
		}
		t.Errorf("codehub-init links %s; keep it to the standard library and yaml.v3", pkg)
	}
}
