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

// LabelWorkspace on a Workspace is the name of a named workspace among its user's (the
// gateway's backend.Ref.Name); absent or "" for the user's default workspace. A label, so
// that Workspaces made before named workspaces are default ones as they are.
const LabelWorkspace = "codehub.io/workspace"

// NamedOf is the Workspace's name among its user's ("" = the default workspace).
func NamedOf(ws *codehubv1.Workspace) string { return ws.Labels[LabelWorkspace] }

// FullName is the name the gateway routes the Workspace by (backend.Ref.FullName):
// identity.WorkspaceName of the user for the default workspace, so its objects keep their
// names, else identity.NamedWorkspaceName. Both are DNS labels of at most 41 characters,
// whatever the label says.
func FullName(ws *codehubv1.Workspace) string {
	if n := NamedOf(ws); n != "" {
		return identity.NamedWorkspaceName(ws.Spec.User, n)
	}
	return identity.WorkspaceName(ws.Spec.User)
}

// Base is the name shared by most objects of a Workspace. The "codehub-" prefix makes it a
// valid DNS-1035 label (Services must start with a letter) and FullName keeps it unique per
// exact user string (and named workspace) and short enough for the suffixes below: each of a
// user's workspaces has its own home claim, Deployment and Service.
func Base(ws *codehubv1.Workspace) string {
	return "codehub-" + FullName(ws)
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
