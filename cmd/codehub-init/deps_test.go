package main

import (
	"os"
	"os/exec"
	"regexp"
	"sort"
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

// The workspace image builds codehub-init from a copy of only the directories it links
// (images/workspace/Dockerfile, stage "init"); a new package it imports must be copied too,
// or the image build fails with "no required module provides package".
func TestDockerfileCopiesEveryPackage(t *testing.T) {
	root := testkit.RepoRoot(t)
	cmd := exec.Command("go", "list", "-deps", ".")
	cmd.Dir = root + "/cmd/codehub-init"
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	const module = "github.com/codehub-dev/codehub/"
	var linked []string
	for _, pkg := range strings.Fields(string(out)) {
		if dir, ok := strings.CutPrefix(pkg, module); ok {
			linked = append(linked, dir)
		}
	}
	dockerfile, err := os.ReadFile(root + "/images/workspace/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	stage := regexp.MustCompile(`(?s)AS init\n(.*?)\nFROM `).FindSubmatch(dockerfile)
	if stage == nil {
		t.Fatal(`no "AS init" stage in images/workspace/Dockerfile`)
	}
	copied := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^COPY (\S+) \./`).FindAllSubmatch(stage[1], -1) {
		copied[string(m[1])] = true
	}
	sort.Strings(linked)
	for _, dir := range linked {
		if !copied[dir] {
			t.Errorf("codehub-init links %s, but the init stage of images/workspace/Dockerfile does not COPY it", dir)
		}
	}
}
