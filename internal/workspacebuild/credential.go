package workspacebuild

import (
	"crypto/sha256"
	"encoding/hex"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
)

// CredentialKey is the key of the credential in the Secret CredentialSecretName.
const CredentialKey = "credential"

// EnvCredential is the variable code-server reads its credential from (--auth password). A
// value without "$argon" selects code-server's plain comparison: a request is let in iff its
// code-server-session cookie equals the value. code-server deletes the variable from its
// environment at start, so its terminals and extension hosts never see it.
const EnvCredential = "HASHED_PASSWORD"

// CredentialLength is the length of a credential: 32 random bytes, hex-encoded.
const CredentialLength = 64

// ValidCredential says whether v looks like a credential the operator made.
func ValidCredential(v string) bool {
	if len(v) != CredentialLength {
		return false
	}
	_, err := hex.DecodeString(v)
	return err == nil
}

// CredentialSecret holds the workspace's credential, owned by the Workspace (garbage
// collection deletes it with the Workspace). The value is the caller's: builders make no
// randomness; the controller generates it once and never rewrites it for the same Workspace.
func CredentialSecret(ws *codehubv1.Workspace, credential string) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: objectMeta(ws, CredentialSecretName(ws), true),
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{CredentialKey: []byte(credential)},
	}
}

// credentialEnv is the pod's reference to the credential; the value never appears in any
// object but the Secret.
func credentialEnv(ws *codehubv1.Workspace) corev1.EnvVar {
	return corev1.EnvVar{Name: EnvCredential, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: CredentialSecretName(ws)},
		Key:                  CredentialKey,
	}}}
}

// credentialHash names a credential without revealing it (a truncated SHA-256 of 256 random
// bits): in the pod template it rolls the pod when the credential changes, since the env
// of a running container never does.
func credentialHash(credential string) string {
	if credential == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("codehub-credential\x00" + credential))
	return hex.EncodeToString(sum[:8])
}
