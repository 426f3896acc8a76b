// Package v1alpha1 holds the codehub.io/v1alpha1 API: the Workspace custom resource that
// the operator reconciles into one user's code-server.
// +kubebuilder:object:generate=true
// +groupName=codehub.io
package v1alpha1

//lint:file-ignore SA1019 kubebuilder's API-package layout: scheme.Builder is what controller-gen's generated code and every operator of this generation register with

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the API group and version of every type in this package.
	GroupVersion = schema.GroupVersion{Group: "codehub.io", Version: "v1alpha1"}

	// SchemeBuilder registers the types with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types of this group-version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
