package workspacebuild

import (
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
)

// InitConfig is the JSON file codehub-init reads at /etc/codehub/init.json before it execs
// code-server (with --auth password: the credential comes from the pod's env, out of the
// workspace's Secret). Its keys are codehub-init's flag names, which it checks: an unknown
// key stops the pod, so only those go in. Nothing secret goes in either: the ConfigMap is
// readable in the namespace.
type InitConfig struct {
	BindAddr      string   `json:"bind-addr"`
	Auth          string   `json:"auth"`
	Home          string   `json:"home"`
	Folder        string   `json:"folder"`
	CondaEnvsDirs []string `json:"conda-envs-dirs,omitempty"`
	Extensions    []string `json:"extensions,omitempty"`
}

// BuildInitConfig derives the init config from the spec.
func BuildInitConfig(ws *codehubv1.Workspace) InitConfig {
	c := InitConfig{BindAddr: fmt.Sprintf("0.0.0.0:%d", Port), Auth: "password", Home: HomePath, Folder: HomePath}
	if ws.Spec.Conda != nil {
		c.CondaEnvsDirs = ws.Spec.Conda.EnvsDirs
	}
	c.Extensions = ws.Spec.Extensions
	if ws.Spec.Home.V3IO != nil {
		// The home dir proper (code-server state, extensions) stays off FUSE; the user's
		// files open from /User.
		c.Folder = V3IOUserPath
	}
	return c
}

// ConfigMap holds init.json.
func ConfigMap(ws *codehubv1.Workspace) *corev1.ConfigMap {
	b, err := json.MarshalIndent(BuildInitConfig(ws), "", "  ")
	if err != nil {
		panic(err) // plain strings only
	}
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: objectMeta(ws, Base(ws), true),
		Data:       map[string]string{"init.json": string(b) + "\n"},
	}
}
