package controller

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
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
	for _, obj := range []client.Object{
		&appsv1.Deployment{}, &corev1.Service{}, &corev1.ServiceAccount{}, &corev1.ConfigMap{}, &corev1.Secret{},
		&corev1.PersistentVolumeClaim{}, &rbacv1.Role{}, &rbacv1.RoleBinding{},
		&networkingv1.NetworkPolicy{}, &corev1.Pod{},
	} {
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
