// Package workspacebuild turns a Workspace into the Kubernetes objects that run it. Every
// function is pure (no client, no clock) so the objects can be checked against golden files
// and the controller can compare what it wants with what exists.
package workspacebuild

import (
	"k8s.io/apimachinery/pkg/api/resource"
)

// Port is where codehub-init makes code-server listen inside the pod.
const Port = 8080

// Paths inside the workspace container.
const (
	InitConfigDir  = "/etc/codehub"
	InitConfigFile = InitConfigDir + "/init.json"
	HomePath       = "/home/codehub"
	V3IOPath       = "/v3io"
	V3IOUserPath   = "/User"
)

// Options are the operator-wide defaults a Workspace does not set itself.
type Options struct {
	// Image is the workspace image when spec.image is empty.
	Image string
	// InitCommand is the entrypoint that prepares the home and execs code-server.
	InitCommand []string
	// HomeSize is the size of a home PVC whose template does not say.
	HomeSize resource.Quantity
	// UID and GID run workspaces whose user has no known ids.
	UID, GID int64
	// GatewaySelector selects the gateway pods the NetworkPolicy admits.
	GatewaySelector map[string]string
	// WorkspaceOrigins is the gateway's --workspace-origins base host (e.g.
	// vscode.example.com). When set, the pod's VSCODE_PROXY_URI points VS Code's Ports view
	// at the gateway's per-port origin p<port>--<workspace>.<base>, which the gateway
	// forwards to code-server's /proxy/<port>/; empty: no VSCODE_PROXY_URI.
	WorkspaceOrigins string
	// GatewayURL is the gateway's agent API as pods reach it (e.g.
	// http://codehub-gateway.<ns>.svc:8080): the codehub extension and codehub-init's busy
	// reporter use it (CODEHUB_AGENT_URL; busy reports on). PublicURL is the gateway as
	// browsers reach it (CODEHUB_PUBLIC_URL: the extension's Sign out and Open dashboard).
	// Empty: not set (no busy reports: only people's activity keeps a pod running).
	GatewayURL, PublicURL string
}

// DefaultOptions are the defaults cmd/operator starts from.
func DefaultOptions() Options {
	return Options{
		Image:           "codehub-workspace:latest",
		InitCommand:     []string{"codehub-init"},
		HomeSize:        resource.MustParse("10Gi"),
		UID:             1000,
		GID:             1000,
		GatewaySelector: map[string]string{"app.kubernetes.io/component": "gateway"},
	}
}
