package workspacebuild

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
)

// ownerRef makes the Workspace the controller of an object, so garbage collection deletes
// it with the Workspace and Owns() watches map its events back.
func ownerRef(ws *codehubv1.Workspace) metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion:         codehubv1.GroupVersion.String(),
		Kind:               "Workspace",
		Name:               ws.Name,
		UID:                ws.UID,
		Controller:         ptr.To(true),
		BlockOwnerDeletion: ptr.To(true),
	}
}

func objectMeta(ws *codehubv1.Workspace, name string, owned bool) metav1.ObjectMeta {
	m := metav1.ObjectMeta{
		Name:        name,
		Namespace:   ws.Namespace,
		Labels:      Labels(ws),
		Annotations: map[string]string{AnnotationUser: ws.Spec.User},
	}
	if owned {
		m.OwnerReferences = []metav1.OwnerReference{ownerRef(ws)}
	}
	return m
}

// Stamp records the hash of obj as built in its AnnotationHash; call it last.
func Stamp(obj client.Object) {
	a := obj.GetAnnotations()
	delete(a, AnnotationHash)
	obj.SetAnnotations(a)
	a = obj.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[AnnotationHash] = hashJSON(obj)
	obj.SetAnnotations(a)
}

func hashJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Only types with channels or funcs fail to marshal; none of ours do.
		panic(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
