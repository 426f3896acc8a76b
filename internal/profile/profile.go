// Package profile is the admin-defined list of workspace kinds a user picks from
// (JupyterHub's profile_list): image, CPU/memory, GPUs, node placement, idle timeout,
// extensions and environment, each open to some groups, one the default.
package profile

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// GPUResource is the extended resource a profile's GPUs are requested as.
const GPUResource corev1.ResourceName = "nvidia.com/gpu"

// Profile is one kind of workspace.
type Profile struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Default marks the profile a user gets without choosing (at most one).
	Default bool `json:"default,omitempty"`
	// Image replaces the operator's default workspace image (Kubernetes only).
	Image string `json:"image,omitempty"`
	// CPU and Memory are requests and limits (Kubernetes only).
	CPU    Amount `json:"cpu,omitempty"`
	Memory Amount `json:"memory,omitempty"`
	// GPUs is the number of nvidia.com/gpu the pod gets (request = limit; Kubernetes only).
	GPUs         int64               `json:"gpus,omitempty"`
	NodeSelector map[string]string   `json:"nodeSelector,omitempty"`
	Tolerations  []corev1.Toleration `json:"tolerations,omitempty"`
	// IdleTimeout stops the workspace after this long without activity (e.g. "2h").
	IdleTimeout string `json:"idleTimeout,omitempty"`
	// Extensions are VS Code extension ids installed on top of the builtin set.
	Extensions []string        `json:"extensions,omitempty"`
	Env        []corev1.EnvVar `json:"env,omitempty"`
	// Groups may use the profile; empty = everyone. Admins may use every profile.
	Groups []string `json:"groups,omitempty"`
}

// Amount is a resource request and limit, as Kubernetes quantities ("500m", "4Gi").
type Amount struct {
	Request string `json:"request,omitempty"`
	Limit   string `json:"limit,omitempty"`
}

// File is the --profiles file (also the chart's `profiles` value).
type File struct {
	Profiles []Profile `json:"profiles"`
}

// Catalog is a validated list of profiles. The zero Catalog has the built-in default.
type Catalog struct {
	list []Profile
	// defined is true for an admin's list (not the built-in default alone).
	defined bool
}

// Builtin is the one profile when an admin defines none: the backend's own defaults.
var Builtin = Profile{Name: "default", Description: "The standard workspace", Default: true}

var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,28}[a-z0-9])?$`)

// extensionRE is the Workspace CRD's pattern for spec.extensions: a profile that breaks it
// would fail every start of its workspaces at the apiserver.
var extensionRE = regexp.MustCompile(`^[A-Za-z0-9][-A-Za-z0-9_]*\.[A-Za-z0-9][-A-Za-z0-9_.]*(@[0-9A-Za-z.+-]+)?$`)

// Load reads and checks a profiles file; "" gives the built-in default only.
func Load(path string) (*Catalog, error) {
	if path == "" {
		return New(nil)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("profiles: %w", err)
	}
	var f File
	if err := yaml.UnmarshalStrict(b, &f); err != nil {
		return nil, fmt.Errorf("profiles file %s: %w", path, err)
	}
	c, err := New(f.Profiles)
	if err != nil {
		return nil, fmt.Errorf("profiles file %s: %w", path, err)
	}
	return c, nil
}

// New checks profiles: unique DNS-label names, at most one default (else the first is),
// quantities and durations that parse, no negative GPUs.
func New(list []Profile) (*Catalog, error) {
	if len(list) == 0 {
		return &Catalog{list: []Profile{Builtin}}, nil
	}
	seen := map[string]bool{}
	defaults := 0
	for i, p := range list {
		if !nameRE.MatchString(p.Name) {
			return nil, fmt.Errorf("profile %q: a name is 1 to 30 lower-case letters, digits or dashes", p.Name)
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("profile %q is defined twice", p.Name)
		}
		seen[p.Name] = true
		if p.Default {
			defaults++
		}
		if p.GPUs < 0 {
			return nil, fmt.Errorf("profile %q: gpus must not be negative", p.Name)
		}
		for what, q := range map[string]string{"cpu.request": p.CPU.Request, "cpu.limit": p.CPU.Limit, "memory.request": p.Memory.Request, "memory.limit": p.Memory.Limit} {
			if q == "" {
				continue
			}
			if _, err := resource.ParseQuantity(q); err != nil {
				return nil, fmt.Errorf("profile %q: %s %q: %v", p.Name, what, q, err)
			}
		}
		for _, x := range p.Extensions {
			if len(x) > 200 || !extensionRE.MatchString(x) {
				return nil, fmt.Errorf("profile %q: extension %q is not an id like publisher.name or publisher.name@1.2.3", p.Name, x)
			}
		}
		for _, e := range p.Env {
			if e.Name == "" {
				return nil, fmt.Errorf("profile %q: an env entry has no name", p.Name)
			}
		}
		if p.IdleTimeout != "" {
			if d, err := time.ParseDuration(p.IdleTimeout); err != nil || d < 0 {
				return nil, fmt.Errorf("profile %q: idleTimeout %q is not a duration like 2h", p.Name, p.IdleTimeout)
			}
		}
		list[i] = p
	}
	if defaults > 1 {
		return nil, errors.New("more than one profile is marked default")
	}
	if defaults == 0 {
		list[0].Default = true
	}
	return &Catalog{list: slices.Clone(list), defined: true}, nil
}

// Defined reports whether an admin defined the profiles (false: the built-in default only,
// which sets no fields: backends then leave a workspace's own settings alone).
func (c *Catalog) Defined() bool { return c.defined }

// All returns every profile in file order.
func (c *Catalog) All() []Profile {
	if c == nil {
		return nil
	}
	return slices.Clone(c.list)
}

// Get returns the profile called name.
func (c *Catalog) Get(name string) (Profile, bool) {
	for _, p := range c.list {
		if p.Name == name {
			return p, true
		}
	}
	return Profile{}, false
}

// Allows reports whether a member of groups (or an admin) may use p.
func (p Profile) Allows(groups []string, admin bool) bool {
	if admin || len(p.Groups) == 0 {
		return true
	}
	for _, g := range groups {
		if slices.Contains(p.Groups, g) {
			return true
		}
	}
	return false
}

// For returns the profiles a user may use, the default first when it is among them.
func (c *Catalog) For(groups []string, admin bool) []Profile {
	var out []Profile
	for _, p := range c.list {
		if p.Allows(groups, admin) {
			if p.Default {
				out = append([]Profile{p}, out...)
			} else {
				out = append(out, p)
			}
		}
	}
	return out
}

// DefaultFor is the profile a user gets without choosing: the default if allowed, else the
// first allowed one; ok is false when none is.
func (c *Catalog) DefaultFor(groups []string, admin bool) (Profile, bool) {
	if list := c.For(groups, admin); len(list) > 0 {
		return list[0], true
	}
	return Profile{}, false
}

// Idle is the profile's idle timeout (0 = not set).
func (p Profile) Idle() time.Duration {
	d, _ := time.ParseDuration(p.IdleTimeout)
	return d
}

// Resources are the profile's requests and limits as a pod wants them (GPUs: request =
// limit, as Kubernetes requires for extended resources).
func (p Profile) Resources() corev1.ResourceRequirements {
	var r corev1.ResourceRequirements
	set := func(l *corev1.ResourceList, name corev1.ResourceName, q string) {
		if q == "" {
			return
		}
		if *l == nil {
			*l = corev1.ResourceList{}
		}
		(*l)[name] = resource.MustParse(q)
	}
	set(&r.Requests, corev1.ResourceCPU, p.CPU.Request)
	set(&r.Limits, corev1.ResourceCPU, p.CPU.Limit)
	set(&r.Requests, corev1.ResourceMemory, p.Memory.Request)
	set(&r.Limits, corev1.ResourceMemory, p.Memory.Limit)
	if p.GPUs > 0 {
		n := fmt.Sprint(p.GPUs)
		set(&r.Requests, GPUResource, n)
		set(&r.Limits, GPUResource, n)
	}
	return r
}

// KubernetesOnly names the fields set in p that only a Kubernetes workspace can apply: the
// local backend says so instead of pretending.
func (p Profile) KubernetesOnly() []string {
	var out []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"image", p.Image != ""}, {"cpu", p.CPU != Amount{}}, {"memory", p.Memory != Amount{}},
		{"gpus", p.GPUs > 0}, {"nodeSelector", len(p.NodeSelector) > 0}, {"tolerations", len(p.Tolerations) > 0},
	} {
		if f.set {
			out = append(out, f.name)
		}
	}
	return out
}
