package kubernetes

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
)

// NewClient returns a client for Workspaces and their credential Secrets from a rest config
// (in-cluster or kubeconfig, e.g. from controller-runtime's config.GetConfig). It reads
// straight from the apiserver: the gateway caches routes, so it only asks while a workspace
// is not yet running, and the backend caches credentials. It can watch: the backend follows
// Workspaces being stopped (NotifyStops).
func NewClient(cfg *rest.Config) (client.WithWatch, error) {
	scheme := runtime.NewScheme()
	if err := codehubv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := corev1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	return client.NewWithWatch(cfg, client.Options{Scheme: scheme})
}
