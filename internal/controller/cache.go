package controller

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/codehub-dev/codehub/internal/workspacebuild"
)

// CacheOptions keeps only the operator's own children in memory (a cluster's every
// ConfigMap, Secret, Service and Deployment would cost far more than the Workspaces
// themselves, and other Secrets are none of the operator's business),
// limited to namespaces when any are given.
func CacheOptions(namespaces []string) cache.Options {
	mine := labels.SelectorFromSet(labels.Set{workspacebuild.LabelManagedBy: workspacebuild.FieldOwner})
	byObject := map[client.Object]cache.ByObject{}
	// The workspace pods too: the controller watches them for start progress.
	for _, obj := range append(workspacebuild.OwnedKinds(), &corev1.Pod{}) {
		byObject[obj] = cache.ByObject{Label: mine}
	}
	o := cache.Options{ByObject: byObject}
	if len(namespaces) > 0 {
		o.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range namespaces {
			o.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return o
}
