package helm

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/codehub-dev/codehub/internal/profile"
)

// TestProfilesValue: the chart's profiles value becomes a ConfigMap the gateway's own loader
// accepts (profile.Load, strict), mounted into the gateway and passed as --profiles, with a
// checksum that rolls the gateway when a profile changes; without profiles there is none of
// it; a profile that is not one is refused at render time.
func TestProfilesValue(t *testing.T) {
	h := newHelm(t)
	gatewayName := release + "-codehub-gateway"
	manifest := h.template(t, scenario{name: "profiles", args: []string{"-f", "test/helm/testdata/profiles.yaml"}})
	objs := objects(t, manifest)
	cm := find(objs, "ConfigMap", release+"-codehub-profiles")
	if cm == nil {
		t.Fatal("no profiles ConfigMap")
	}
	data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
	path := filepath.Join(t.TempDir(), "profiles.yaml")
	if err := os.WriteFile(path, []byte(data["profiles.yaml"]), 0o600); err != nil {
		t.Fatal(err)
	}
	cat, err := profile.Load(path)
	if err != nil {
		t.Fatalf("the gateway rejects the chart's profiles: %v\n%s", err, data["profiles.yaml"])
	}
	gpu, ok := cat.Get("gpu")
	if d, _ := cat.DefaultFor(nil, false); d.Name != "small" || !ok || gpu.GPUs != 1 || gpu.NodeSelector["nvidia.com/gpu.present"] != "true" ||
		len(gpu.Tolerations) != 1 || gpu.Idle().Minutes() != 30 || !slices.Equal(gpu.Groups, []string{"ml-team"}) || gpu.Env[0].Value != "0" {
		t.Errorf("profiles as loaded: default %q, gpu %+v", d.Name, gpu)
	}

	dep := find(objs, "Deployment", gatewayName)
	spec, _, _ := unstructured.NestedMap(dep.Object, "spec", "template", "spec")
	ctr := spec["containers"].([]any)[0].(map[string]any)
	if !slices.Contains(ctr["args"].([]any), any("--profiles=/etc/codehub/profiles/profiles.yaml")) {
		t.Errorf("gateway args lack --profiles: %v", ctr["args"])
	}
	mounted := false
	for _, m := range ctr["volumeMounts"].([]any) {
		mm := m.(map[string]any)
		mounted = mounted || (mm["name"] == "profiles" && mm["mountPath"] == "/etc/codehub/profiles")
	}
	fromConfigMap := false
	for _, v := range spec["volumes"].([]any) {
		vm := v.(map[string]any)
		if c, ok := vm["configMap"].(map[string]any); ok && vm["name"] == "profiles" {
			fromConfigMap = c["name"] == cm.GetName()
		}
	}
	if !mounted || !fromConfigMap {
		t.Errorf("profiles not mounted from the ConfigMap (mount %v, volume %v)", mounted, fromConfigMap)
	}
	annotations, _, _ := unstructured.NestedStringMap(dep.Object, "spec", "template", "metadata", "annotations")
	if annotations["checksum/profiles"] == "" {
		t.Errorf("no checksum/profiles on the gateway pods: %v", annotations)
	}
	changed := objects(t, h.template(t, scenario{name: "profiles", args: []string{"-f", "test/helm/testdata/profiles.yaml", "--set", "profiles[1].gpus=2"}}))
	after, _, _ := unstructured.NestedStringMap(find(changed, "Deployment", gatewayName).Object, "spec", "template", "metadata", "annotations")
	if after["checksum/profiles"] == annotations["checksum/profiles"] {
		t.Error("changing a profile does not change the gateway pods' checksum: the gateway would keep the old catalog")
	}

	plain := h.template(t, scenario{name: "default"})
	if find(objects(t, plain), "ConfigMap", release+"-codehub-profiles") != nil || strings.Contains(plain, "- --profiles=") {
		t.Error("without profiles the chart still renders a profiles ConfigMap or flag")
	}

	for _, c := range []struct{ name, set, want string }{
		{"no name", `profiles=[{"description":"x"}]`, `at '/profiles/0': missing property 'name'`},
		{"bad name", `profiles=[{"name":"GPU big"}]`, `at '/profiles/0/name'`},
		{"negative gpus", `profiles=[{"name":"gpu","gpus":-1}]`, `at '/profiles/0/gpus'`},
		{"typo", `profiles=[{"name":"gpu","gpu":1}]`, `additional properties 'gpu' not allowed`},
	} {
		_, stderr, err := h.run("template", release, chartPath, "--namespace", namespace, "--set-json", c.set)
		if err == nil || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: %v, stderr %q; want it refused with %q", c.name, err, stderr, c.want)
		}
	}
}
