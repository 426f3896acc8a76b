package workspacebuild

import (
	"github.com/codehub-dev/codehub/internal/identity"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
)

// FieldOwner is the server-side-apply field manager of everything the operator writes.
const FieldOwner = "codehub-operator"

// Label keys on every owned object.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelComponent = "app.kubernetes.io/component"
	// AnnotationUser carries the exact user, which is not a valid label value in general.
	AnnotationUser = "codehub.io/user"
	// AnnotationHash is the hash of the object as built; the controller skips writing an
	// object whose hash matches, so a converged reconcile writes nothing.
	AnnotationHash = "codehub.io/applied-hash"
	// AnnotationProfile on the Deployment (not its pod template: recording a new profile
	// must not restart a running pod) names the profile of spec.profile.
	AnnotationProfile = "codehub.io/profile"
	// AnnotationConfigHash rolls the pod when the init config changes.
	AnnotationConfigHash = "codehub.io/config-hash"
	// AnnotationCredentialHash rolls the pod when its credential changes.
	AnnotationCredentialHash = "codehub.io/credential-hash"
)

// Base is the name shared by most objects of a Workspace. The "codehub-" prefix makes it a
// valid DNS-1035 label (Services must start with a letter) and identity.WorkspaceName keeps
// it unique per exact user string and short enough for the suffixes below.
func Base(ws *codehubv1.Workspace) string {
	return "codehub-" + identity.WorkspaceName(ws.Spec.User)
}

// CredentialSecretName is the Secret holding the workspace's credential (CredentialKey),
// the value code-server requires as its session cookie.
func CredentialSecretName(ws *codehubv1.Workspace) string { return Base(ws) + "-auth" }

// HomeClaimName is the PVC the operator creates; it is also the claim a re-created
// Workspace of the same user finds again after a Retain delete.
func HomeClaimName(ws *codehubv1.Workspace) string { return Base(ws) + "-home" }

// SelectorLabels select the workspace pod.
func SelectorLabels(ws *codehubv1.Workspace) map[string]string {
	return map[string]string{
		LabelName:     "codehub-workspace",
		LabelInstance: Base(ws),
	}
}

// Labels are put on every owned object; the managed-by label also scopes the operator's cache.
func Labels(ws *codehubv1.Workspace) map[string]string {
	l := SelectorLabels(ws)
	l[LabelManagedBy] = FieldOwner
	l[LabelComponent] = "workspace"
	return l
}
