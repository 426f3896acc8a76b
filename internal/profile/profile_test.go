package profile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

func TestLoadAndChoose(t *testing.T) {
	c, err := Load("testdata/profiles.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := c.DefaultFor(nil, false); d.Name != "small" {
		t.Fatalf("default = %q, want the first (none marked)", d.Name)
	}
	if got := names(c.For([]string{"users"}, false)); got != "small" {
		t.Errorf("a user outside ml-team sees %s", got)
	}
	if got := names(c.For([]string{"ml-team"}, false)); got != "small,gpu" {
		t.Errorf("ml-team sees %s", got)
	}
	if got := names(c.For(nil, true)); got != "small,gpu" {
		t.Errorf("an admin sees %s", got)
	}
	gpu, _ := c.Get("gpu")
	r := gpu.Resources()
	if q := r.Limits[GPUResource]; q.Cmp(resource.MustParse("1")) != 0 || r.Requests[GPUResource] != q {
		t.Errorf("gpu resources: %v", r)
	}
	if gpu.Idle() != 30*time.Minute {
		t.Errorf("idle %v", gpu.Idle())
	}
	if got := strings.Join(gpu.KubernetesOnly(), ","); got != "image,gpus,nodeSelector,tolerations" {
		t.Errorf("kubernetes-only fields: %s", got)
	}
	small, _ := c.Get("small")
	if rs := small.Resources(); rs.Requests.Cpu().String() != "500m" || rs.Limits.Memory().String() != "4Gi" {
		t.Errorf("small resources: %v", rs)
	}
}

func TestBuiltinWithoutFile(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := c.DefaultFor(nil, false); !ok || d.Name != "default" || len(d.Resources().Limits) != 0 {
		t.Fatalf("builtin: %+v %v", d, ok)
	}
}

func TestRejects(t *testing.T) {
	for what, body := range map[string]string{
		"unknown key":   "profiles:\n- name: a\n  cpus: 2\n",
		"bad name":      "profiles:\n- name: Big_One\n",
		"duplicate":     "profiles:\n- name: a\n- name: a\n",
		"two defaults":  "profiles:\n- {name: a, default: true}\n- {name: b, default: true}\n",
		"bad quantity":  "profiles:\n- name: a\n  memory: {limit: lots}\n",
		"bad duration":  "profiles:\n- name: a\n  idleTimeout: soon\n",
		"negative gpus": "profiles:\n- name: a\n  gpus: -1\n",
	} {
		p := filepath.Join(t.TempDir(), "p.yaml")
		os.WriteFile(p, []byte(body), 0o600)
		if _, err := Load(p); err == nil {
			t.Errorf("%s: accepted", what)
		}
	}
}

func names(ps []Profile) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return strings.Join(out, ",")
}
