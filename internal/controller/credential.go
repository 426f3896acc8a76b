package controller

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/workspacebuild"
)

// newCredential is 32 random bytes, hex-encoded (64 characters, no "$argon": code-server
// compares the session cookie with it as it is).
func newCredential() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("credential: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// credential returns the value of the Workspace's credential Secret, creating the Secret
// when it is missing. An existing Secret this Workspace controls is only read, so a converged
// pass writes nothing. A Secret left by a deleted Workspace of the same user (another UID,
// owner gone: the adoption path of ensureNotTaken), one nobody controls, or one whose value
// is not a credential is given a new random value and this Workspace as owner: a re-created
// Workspace never inherits a credential someone may have seen.
func (r *Reconciler) credential(ctx context.Context, ws *codehubv1.Workspace) (string, error) {
	key := client.ObjectKey{Namespace: ws.Namespace, Name: workspacebuild.CredentialSecretName(ws)}
	have := &corev1.Secret{}
	err := r.Client.Get(ctx, key, have)
	if apierrors.IsNotFound(err) {
		value, cerr := newCredential()
		if cerr != nil {
			return "", cerr
		}
		cerr = r.Client.Create(ctx, workspacebuild.CredentialSecret(ws, value))
		if cerr == nil {
			return value, nil
		}
		if !apierrors.IsAlreadyExists(cerr) {
			return "", fmt.Errorf("secret %s: %w", key.Name, cerr)
		}
		// The cache has not seen it yet, or it lacks the managed-by label: read it live
		// (its result, not the cache's not-found, decides what follows).
		err = r.apiReader().Get(ctx, key, have)
	}
	if err != nil {
		return "", fmt.Errorf("secret %s: %w", key.Name, err)
	}
	owner := metav1.GetControllerOf(have)
	value := string(have.Data[workspacebuild.CredentialKey])
	if owner != nil && owner.UID == ws.UID && workspacebuild.ValidCredential(value) {
		return value, nil
	}
	if owner != nil && owner.UID != ws.UID {
		if err := r.ownerGone(ctx, ws, owner); err != nil {
			return "", err
		}
	}
	if value, err = newCredential(); err != nil {
		return "", err
	}
	want := workspacebuild.CredentialSecret(ws, value)
	have.Labels, have.OwnerReferences, have.Data = want.Labels, want.OwnerReferences, want.Data
	if have.Annotations == nil {
		have.Annotations = map[string]string{}
	}
	have.Annotations[workspacebuild.AnnotationUser] = ws.Spec.User
	// resourceVersion from the read: a concurrent writer makes this a conflict, retried.
	if err := r.Client.Update(ctx, have); err != nil {
		return "", fmt.Errorf("secret %s: rotating the credential: %w", key.Name, err)
	}
	return value, nil
}

// ownerGone refuses to take over a child whose owner is another live Workspace of the user.
func (r *Reconciler) ownerGone(ctx context.Context, ws *codehubv1.Workspace, owner *metav1.OwnerReference) error {
	other := &codehubv1.Workspace{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: ws.Namespace, Name: owner.Name}, other)
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return err
	case other.UID == owner.UID && other.DeletionTimestamp.IsZero():
		return fmt.Errorf("user %q already has Workspace %q in this namespace", ws.Spec.User, owner.Name)
	}
	return nil
}

func (r *Reconciler) apiReader() client.Reader {
	if r.APIReader != nil {
		return r.APIReader
	}
	return r.Client
}
