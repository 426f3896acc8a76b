package workspacebuild

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
)

// InitConfig is the JSON file codehub-init reads at /etc/codehub/init.json before it execs
// code-server. Nothing secret goes in it: the ConfigMap is readable in the namespace.
type InitConfig struct {
	User           string   `json:"user"`
	Home           string   `json:"home"`
	BindAddr       string   `json:"bindAddr"`
	Auth           string   `json:"auth"`
	Extensions     []string `json:"extensions,omitempty"`
	CondaEnvsDirs  []string `json:"condaEnvsDirs,omitempty"`
	IdleTimeout    string   `json:"idleTimeout,omitempty"`
	WorkspaceDir   string   `json:"workspaceFolder"`
	V3IOUserFolder string   `json:"v3ioUserFolder,omitempty"`
}

// BuildInitConfig derives the init config from the spec.
func BuildInitConfig(ws *codehubv1.Workspace) InitConfig {
	c := InitConfig{
		User:         ws.Spec.User,
		Home:         HomePath,
		BindAddr:     "0.0.0.0:8080",
		Auth:         "none",
		Extensions:   ws.Spec.Extensions,
		WorkspaceDir: HomePath,
	}
	if ws.Spec.Conda != nil {
		c.CondaEnvsDirs = ws.Spec.Conda.EnvsDirs
	}
	if ws.Spec.IdleTimeout != nil {
		c.IdleTimeout = ws.Spec.IdleTimeout.Duration.String()
	}
	if hasV3IO(ws) {
		c.V3IOUserFolder = V3IOUserPath
	}
	if ws.Spec.Home.V3IO != nil {
		c.WorkspaceDir = V3IOUserPath
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
