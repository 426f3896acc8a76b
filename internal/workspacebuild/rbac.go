package workspacebuild

import (
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
)

// ServiceAccount is the identity of the workspace pod; codehub-init turns its token into
// ~/.kube/config for the VS Code Kubernetes extension.
func ServiceAccount(ws *codehubv1.Workspace) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: objectMeta(ws, Base(ws), true),
	}
}

// DefaultRules mirror the platform's Jupyter role (read pods, services and configmaps in the
// namespace) plus reading the user's own Workspace and nothing of anyone else's.
func DefaultRules(ws *codehubv1.Workspace) []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods", "pods/log", "services", "configmaps"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{codehubv1.GroupVersion.Group}, Resources: []string{"workspaces"}, ResourceNames: []string{ws.Name}, Verbs: []string{"get", "watch"}},
	}
}

// Role is DefaultRules plus spec.serviceAccount.extraRules.
func Role(ws *codehubv1.Workspace) *rbacv1.Role {
	rules := DefaultRules(ws)
	rules = append(rules, ws.Spec.ServiceAccount.ExtraRules...)
	return &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: objectMeta(ws, Base(ws), true),
		Rules:      rules,
	}
}

// RoleBinding grants Role to the workspace ServiceAccount only.
func RoleBinding(ws *codehubv1.Workspace) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: objectMeta(ws, Base(ws), true),
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: Base(ws)},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: Base(ws), Namespace: ws.Namespace}},
	}
}
