package controller

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/workspacebuild"
)

// apply server-side-applies every wanted object whose applied hash differs from what exists,
// so a converged Workspace costs reads only.
func (r *Reconciler) apply(ctx context.Context, ws *codehubv1.Workspace, credential string) error {
	for _, want := range workspacebuild.Objects(ws, r.Options, credential) {
		if err := r.applyOne(ctx, want); err != nil {
			return fmt.Errorf("%s %s: %w", want.GetObjectKind().GroupVersionKind().Kind, want.GetName(), err)
		}
	}
	return nil
}

func (r *Reconciler) applyOne(ctx context.Context, want client.Object) error {
	have, ok := want.DeepCopyObject().(client.Object)
	if !ok {
		return fmt.Errorf("%T is not a client.Object", want)
	}
	err := r.Client.Get(ctx, client.ObjectKeyFromObject(want), have)
	switch {
	case err == nil && have.GetAnnotations()[workspacebuild.AnnotationHash] == want.GetAnnotations()[workspacebuild.AnnotationHash] && !scaledByHand(have, want):
		return nil
	case err != nil && !apierrors.IsNotFound(err):
		return err
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(want)
	if err != nil {
		return err
	}
	// Typed structs serialise empty status and creationTimestamp; neither is ours to set.
	delete(u, "status")
	unstructured.RemoveNestedField(u, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u, "spec", "template", "metadata", "creationTimestamp")
	return r.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(&unstructured.Unstructured{Object: u}),
		client.FieldOwner(workspacebuild.FieldOwner), client.ForceOwnership)
}

// scaledByHand catches the one edit to a child that matters to users and leaves the hash
// annotation alone: kubectl scale on a workspace Deployment (running is the only switch).
func scaledByHand(have, want client.Object) bool {
	h, ok := have.(*appsv1.Deployment)
	if !ok {
		return false
	}
	w := want.(*appsv1.Deployment)
	return h.Spec.Replicas == nil || *h.Spec.Replicas != *w.Spec.Replicas
}
