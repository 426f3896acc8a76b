package kubernetes

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/workspacebuild"
)

// credentialCache keeps each running workspace's credential, so reporting a workspace (Get,
// List) does not cost a Secret GET each time. Keyed by Workspace name, valid for one UID.
type credentialCache struct {
	mu      sync.Mutex
	entries map[string]credentialEntry
}

type credentialEntry struct {
	uid     types.UID
	value   string
	fetched time.Time
}

func (c *credentialCache) get(name string, uid types.UID, ttl time.Duration) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[name]
	if !ok || e.uid != uid || time.Since(e.fetched) > ttl {
		return "", false
	}
	return e.value, true
}

func (c *credentialCache) put(name string, uid types.UID, value string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[name] = credentialEntry{uid: uid, value: value, fetched: time.Now()}
}

// forget drops a workspace that is not running: its next start reads the Secret again.
func (c *credentialCache) forget(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, name)
}

// credential is the value code-server requires as its session cookie, from the Secret the
// operator made for this Workspace. A missing or malformed Secret is an error (the caller
// reports the workspace as still starting): the operator creates it before the pod.
func (b *Backend) credential(ctx context.Context, ws *codehubv1.Workspace) (string, error) {
	if v, ok := b.creds.get(ws.Name, ws.UID, b.cfg.CredentialTTL); ok {
		return v, nil
	}
	name := workspacebuild.CredentialSecretName(ws)
	sec := &corev1.Secret{}
	err := b.cfg.Client.Get(ctx, client.ObjectKey{Namespace: ws.Namespace, Name: name}, sec)
	switch {
	case apierrors.IsNotFound(err):
		return "", fmt.Errorf("waiting for the workspace credential (Secret %s)", name)
	case err != nil:
		return "", fmt.Errorf("reading the workspace credential (Secret %s): %w", name, err)
	}
	v := string(sec.Data[workspacebuild.CredentialKey])
	if !workspacebuild.ValidCredential(v) {
		return "", fmt.Errorf("waiting for the workspace credential (Secret %s has no valid %q)", name, workspacebuild.CredentialKey)
	}
	b.creds.put(ws.Name, ws.UID, v)
	return v, nil
}
