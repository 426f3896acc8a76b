package workspacebuild

import (
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
