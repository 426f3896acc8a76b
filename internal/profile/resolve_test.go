package profile

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestResolve(t *testing.T) {
	c, err := Load("testdata/profiles.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		recorded string
		groups   []string
		admin    bool
		checked  bool
		want     string
		notice   string // substring; "" = no notice
	}{
		{"nothing recorded: the default", "", nil, false, false, "small", ""},
		{"member keeps gpu", "gpu", []string{"ml-team"}, false, false, "gpu", ""},
		{"left the group: default, said why", "gpu", []string{"users"}, false, false, "small", `"gpu" is open to the groups ml-team only`},
		{"admin keeps gpu", "gpu", nil, true, false, "gpu", ""},
		{"checked by an admin acting for the owner", "gpu", nil, false, true, "gpu", ""},
		{"removed profile: default, said why", "huge", nil, false, false, "small", `"huge" no longer exists; this start uses "small"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, notice, ok := c.Resolve(tc.recorded, tc.groups, tc.admin, tc.checked)
			if !ok || p.Name != tc.want {
				t.Fatalf("Resolve = %q, %v; want %q", p.Name, ok, tc.want)
			}
			if (tc.notice == "") != (notice == "") || !strings.Contains(notice, tc.notice) {
				t.Errorf("notice = %q, want one containing %q", notice, tc.notice)
			}
		})
	}
	only, err := New([]Profile{{Name: "ml", Groups: []string{"ml-team"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := only.Resolve("", []string{"users"}, false, false); ok {
		t.Error("a user no profile is open to got one")
	}
}

func TestIgnored(t *testing.T) {
	c, _ := Load("testdata/profiles.yaml")
	gpu, _ := c.Get("gpu")
	if got := strings.Join(gpu.Ignored("local"), ","); got != "image,gpus,nodeSelector,tolerations" {
		t.Errorf("local ignores %s", got)
	}
	if got := gpu.Ignored("kubernetes"); len(got) != 0 {
		t.Errorf("kubernetes ignores %v", got)
	}
}

func TestNewRefusesWhatTheCRDWould(t *testing.T) {
	for _, p := range []Profile{
		{Name: "x", Extensions: []string{"not an id"}},
		{Name: "x", Env: []corev1.EnvVar{{Value: "nameless"}}},
	} {
		if _, err := New([]Profile{p}); err == nil || !strings.Contains(err.Error(), `profile "x"`) {
			t.Errorf("New(%+v) = %v, want an error naming the profile", p, err)
		}
	}
}
