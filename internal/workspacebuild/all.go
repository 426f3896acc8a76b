package workspacebuild

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
)

// Objects returns every object the Workspace wants applied, in apply order (what the pod
// needs first), each stamped with its hash. The credential Secret is not among them: the
// controller creates it (CredentialSecret) before these and passes its value in.
func Objects(ws *codehubv1.Workspace, o Options, credential string) []client.Object {
	objs := []client.Object{ServiceAccount(ws), Role(ws), RoleBinding(ws), ConfigMap(ws)}
	if WantsHomeClaim(ws) {
		objs = append(objs, HomeClaim(ws, o))
	}
	objs = append(objs, Deployment(ws, o, credential), Service(ws), NetworkPolicy(ws, o))
	for _, obj := range objs {
		Stamp(obj)
	}
	return objs
}

// OwnedKinds returns one empty object of each kind a Workspace owns: what Objects builds
// plus the credential Secret. It is the one list of them; the controller's Owns() watches
// and its cache's label filter are derived from it, so a kind added to Objects is watched
// and cached without a second edit (TestOwnedKindsAreWhatIsBuilt keeps the two in step).
func OwnedKinds() []client.Object {
	return []client.Object{
		&appsv1.Deployment{}, &corev1.Service{}, &corev1.ServiceAccount{}, &corev1.ConfigMap{}, &corev1.Secret{},
		&corev1.PersistentVolumeClaim{}, &rbacv1.Role{}, &rbacv1.RoleBinding{}, &networkingv1.NetworkPolicy{},
	}
}
