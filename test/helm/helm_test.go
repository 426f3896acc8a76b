// Package helm tests the charts/codehub Helm chart with a real helm binary (built by
// scripts/install-helm.sh from the Go module proxy): lint, golden renderings, the values
// schema, and install/upgrade/uninstall against a real kube-apiserver (envtest).
package helm

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/codehub-dev/codehub/internal/testkit"
)

// release and namespace mirror the seed's `helm -n default-tenant install vscode ./`.
const (
	release   = "vscode"
	namespace = "default-tenant"
)

type helmCmd struct {
	bin  string
	env  []string
	root string
}

// newHelm returns a helm runner with its own config/cache/data dirs (nothing under $HOME).
func newHelm(t *testing.T) *helmCmd {
	t.Helper()
	bin := testkit.Helm(t)
	dir := t.TempDir()
	env := append(os.Environ(),
		"HELM_CONFIG_HOME="+filepath.Join(dir, "config"),
		"HELM_CACHE_HOME="+filepath.Join(dir, "cache"),
		"HELM_DATA_HOME="+filepath.Join(dir, "data"),
		// No kubeconfig unless a test sets one: lint/template must not reach a cluster.
		"KUBECONFIG="+filepath.Join(dir, "no-kubeconfig"),
	)
	return &helmCmd{bin: bin, env: env, root: testkit.RepoRoot(t)}
}

func (h *helmCmd) withKubeconfig(path string) *helmCmd {
	c := *h
	c.env = append(append([]string{}, h.env...), "KUBECONFIG="+path)
	return &c
}

// run runs helm in the repository root and returns stdout, stderr and the error.
func (h *helmCmd) run(args ...string) (string, string, error) {
	cmd := exec.Command(h.bin, args...)
	cmd.Dir = h.root
	cmd.Env = h.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// must runs helm and fails the test on a non-zero exit, showing helm's output.
func (h *helmCmd) must(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := h.run(args...)
	if err != nil {
		t.Fatalf("helm %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

const chartPath = "charts/codehub"

// scenario is one set of values the chart is rendered, linted and checked with.
type scenario struct {
	name string
	args []string // -f/--set flags
}

// scenarios are the renderings the issue asks for; each has a golden file.
var scenarios = []scenario{
	{name: "default"},
	{name: "single-user", args: []string{"-f", chartPath + "/values-single-user.yaml"}},
	{name: "v3io", args: []string{"-f", "test/helm/testdata/v3io.yaml"}},
	{name: "ingress-tls", args: []string{"-f", "test/helm/testdata/ingress-tls.yaml"}},
	{name: "nodeport", args: []string{"-f", "test/helm/testdata/nodeport.yaml"}},
	{name: "workspace-origins", args: []string{"-f", "test/helm/testdata/workspace-origins.yaml"}},
}

// sessionKey matches the generated session key, which differs on every rendering
// (`helm template` cannot look up the existing Secret).
var sessionKey = regexp.MustCompile(`(?m)^(  session\.key: ).+$`)

func (h *helmCmd) template(t *testing.T, s scenario, extra ...string) string {
	t.Helper()
	args := append([]string{"template", release, chartPath, "--namespace", namespace}, s.args...)
	return h.must(t, append(args, extra...)...)
}

// objects splits a multi-document manifest into objects.
func objects(t *testing.T, manifest string) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	var objs []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return objs
			}
			t.Fatalf("decoding manifest: %v", err)
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && (name == "" || o.GetName() == name) {
			return o
		}
	}
	return nil
}

func unstructuredSlice(obj map[string]any, fields ...string) ([]any, bool, error) {
	return unstructured.NestedSlice(obj, fields...)
}

func toYAML(t *testing.T, v any) string {
	t.Helper()
	b, err := sigsyaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
