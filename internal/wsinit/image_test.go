package wsinit

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/codehub-dev/codehub/internal/testkit"
)

// The image cannot be built here; these checks keep its inputs consistent with the repo.
func TestWorkspaceImageInputs(t *testing.T) {
	root := testkit.RepoRoot(t)
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	pin := regexp.MustCompile(`^([a-z0-9-]+)\.([a-z0-9-]+)@(\d+\.\d+\.\d+)( platform)?$`)
	var ids []string
	for i, line := range strings.Split(read("images/workspace/extensions.txt"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := pin.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("extensions.txt:%d: %q is not <publisher>.<name>@<x.y.z> [platform]", i+1, line)
			continue
		}
		ids = append(ids, m[1]+"."+m[2])
	}
	for _, want := range []string{"ms-python.python", "ms-kubernetes-tools.vscode-kubernetes-tools",
		"yzhang.markdown-all-in-one", "njpwerner.autodocstring", "oderwat.indent-rainbow", "ms-toolsai.jupyter"} {
		if !contains(ids, want) {
			t.Errorf("extensions.txt lacks %s", want)
		}
	}
	if contains(ids, "coenraads.bracket-pair-colorizer-2") {
		t.Error("Bracket Pair Colorizer 2 is deprecated: VS Code's editor.bracketPairColorization replaces it")
	}
	if DefaultSettings("/opt/conda")["editor.bracketPairColorization.enabled"] != true {
		t.Error("native bracket pair colourisation is not on by default")
	}

	// One code-server and Kubernetes version for the tests and the image.
	versions := read("scripts/versions.env")
	dockerfile := read("images/workspace/Dockerfile")
	for envKey, argKey := range map[string]string{"CODE_SERVER_VERSION": "CODE_SERVER_VERSION", "K8S_VERSION": "KUBECTL_VERSION"} {
		want := regexp.MustCompile(`(?m)^` + envKey + `=(\S+)$`).FindStringSubmatch(versions)
		got := regexp.MustCompile(`(?m)^ARG ` + argKey + `=v?(\S+)$`).FindStringSubmatch(dockerfile)
		if want == nil || got == nil || want[1] != got[1] {
			t.Errorf("Dockerfile ARG %s = %v, scripts/versions.env %s = %v: keep them equal", argKey, got, envKey, want)
		}
	}

	env := read("images/workspace/environment.yml")
	for _, dep := range []string{"python=3", "pip", "jupyter", "ipykernel", "pylint"} {
		if !regexp.MustCompile(`(?m)^\s+-\s+` + regexp.QuoteMeta(dep)).MatchString(env) {
			t.Errorf("environment.yml lacks %s", dep)
		}
	}
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
