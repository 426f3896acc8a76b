package kubernetes

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/profile"
	"github.com/codehub-dev/codehub/internal/workspacebuild"
)

// The gateway holds the profile catalog; the operator does not. At each start of a stopped
// workspace the backend writes the resolved profile into the Workspace's spec, so a profile
// whose definition changed reaches every existing workspace on its next start, and a running
// pod is never restarted by an edit to the catalog.

// resolve picks the profile of a start (profile.Catalog.Resolve) for the Workspace's owner.
func (b *Backend) resolve(ctx context.Context, recorded string, id identity.Identity) (profile.Profile, string, error) {
	p, notice, ok := b.cfg.Profiles.Resolve(recorded, id.Groups, id.Admin, backend.ProfileChecked(ctx))
	if !ok {
		return p, notice, fmt.Errorf("%w: no workspace profile is open to %q; an admin must add one of their groups to a profile", backend.ErrRefused, id.User)
	}
	return p, notice, nil
}

// applyProfile writes p into spec. With an admin-defined catalog, the fields a profile
// owns (image, resources and GPUs, nodeSelector, tolerations, env, extensions, idleTimeout)
// become the backend defaults overlaid with the profile's, whatever they were: switching
// from a GPU profile to a CPU one removes the GPU limit. With the built-in default only,
// only the name is recorded and the Workspace keeps its own settings.
func (b *Backend) applyProfile(spec *codehubv1.WorkspaceSpec, p profile.Profile) {
	spec.Profile = p.Name
	if !b.cfg.Profiles.Defined() {
		return
	}
	d := b.cfg.Defaults.DeepCopy()
	spec.Image = d.Image
	if p.Image != "" {
		spec.Image = p.Image
	}
	spec.Resources = d.Resources
	pr := p.Resources()
	spec.Resources.Requests = overlay(spec.Resources.Requests, pr.Requests)
	spec.Resources.Limits = overlay(spec.Resources.Limits, pr.Limits)
	spec.NodeSelector = d.NodeSelector
	for k, v := range p.NodeSelector {
		if spec.NodeSelector == nil {
			spec.NodeSelector = map[string]string{}
		}
		spec.NodeSelector[k] = v
	}
	spec.Tolerations = append(d.Tolerations, p.Tolerations...)
	spec.Env = d.Env
	for _, e := range p.Env {
		spec.Env = slices.DeleteFunc(spec.Env, func(x corev1.EnvVar) bool { return x.Name == e.Name })
		spec.Env = append(spec.Env, e)
	}
	spec.Extensions = d.Extensions
	for _, x := range p.Extensions {
		if !slices.Contains(spec.Extensions, x) {
			spec.Extensions = append(spec.Extensions, x)
		}
	}
	spec.IdleTimeout = d.IdleTimeout
	if t := p.Idle(); t > 0 {
		spec.IdleTimeout = &metav1.Duration{Duration: t}
	}
}

func overlay(base, over corev1.ResourceList) corev1.ResourceList {
	if len(over) == 0 {
		return base
	}
	out := base.DeepCopy()
	if out == nil {
		out = corev1.ResourceList{}
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

// startStopped sets running with the resolved profile's fields in one patch, with the
// Workspace's resourceVersion as a precondition: a concurrent edit makes it read again
// instead of overwriting it.
func (b *Backend) startStopped(ctx context.Context, ws *codehubv1.Workspace, id identity.Identity) error {
	for attempt := 0; ; attempt++ {
		if ws.Spec.Running {
			return nil
		}
		recorded := ws.Spec.Profile
		if next := ws.Annotations[AnnotationNextProfile]; next != "" {
			recorded = next
		}
		p, notice, err := b.resolve(ctx, recorded, id)
		if err != nil {
			return err
		}
		patch := client.MergeFromWithOptions(ws.DeepCopy(), client.MergeFromWithOptimisticLock{})
		b.applyProfile(&ws.Spec, p)
		ws.Spec.Running = true
		if ws.Spec.UID == nil && id.UID != nil {
			// Created by SetProfile, before the owner's ids were known.
			ws.Spec.UID, ws.Spec.GID = id.UID, id.GID
		}
		delete(ws.Annotations, AnnotationNextProfile)
		delete(ws.Annotations, AnnotationProfileNotice)
		if notice != "" {
			if ws.Annotations == nil {
				ws.Annotations = map[string]string{}
			}
			ws.Annotations[AnnotationProfileNotice] = notice
		}
		err = b.cfg.Client.Patch(ctx, ws, patch)
		if err == nil {
			return nil
		}
		if !apierrors.IsConflict(err) || attempt == 4 {
			return fmt.Errorf("start workspace %s: %w", ws.Name, err)
		}
		if err := b.cfg.Client.Get(ctx, client.ObjectKeyFromObject(ws), ws); err != nil {
			return err
		}
	}
}

// AnnotationNextProfile on a running Workspace holds a profile chosen for its next start,
// so spec.profile always names the profile whose fields the spec (and the pod) has.
const AnnotationNextProfile = "codehub.io/next-profile"

// AnnotationProfileNotice says why the last start used another profile than the recorded
// one (Workspace.Notice, on the progress page and in the API) until the next start.
const AnnotationProfileNotice = "codehub.io/profile-notice"

// SetProfile records the profile of the user's workspace for its next start: spec.profile
// on a stopped Workspace, the next-profile annotation on a running one (whose pod keeps what
// it started with). Without a Workspace yet, one is created stopped with the profile.
func (b *Backend) SetProfile(ctx context.Context, ref backend.Ref, name string) error {
	if _, ok := b.cfg.Profiles.Get(name); !ok {
		return fmt.Errorf("no profile %q", name)
	}
	ws := &codehubv1.Workspace{}
	err := b.cfg.Client.Get(ctx, b.key(ref), ws)
	if apierrors.IsNotFound(err) {
		ws = b.newWorkspace(identity.Identity{User: ref.User}, ref.Name)
		ws.Spec.Running = false
		p, _ := b.cfg.Profiles.Get(name)
		b.applyProfile(&ws.Spec, p)
		if err = b.cfg.Client.Create(ctx, ws); !apierrors.IsAlreadyExists(err) {
			return err
		}
		err = b.cfg.Client.Get(ctx, b.key(ref), ws)
	}
	if err != nil {
		return err
	}
	if err := checkOwner(ws, ref); err != nil {
		return err
	}
	patch := client.MergeFrom(ws.DeepCopy())
	switch {
	case ws.Spec.Running && ws.Spec.Profile == name:
		delete(ws.Annotations, AnnotationNextProfile)
	case ws.Spec.Running:
		if ws.Annotations == nil {
			ws.Annotations = map[string]string{}
		}
		ws.Annotations[AnnotationNextProfile] = name
	default:
		ws.Spec.Profile = name
		delete(ws.Annotations, AnnotationNextProfile)
	}
	if err := b.cfg.Client.Patch(ctx, ws, patch); err != nil {
		return fmt.Errorf("set profile %q on workspace %s: %w", name, ws.Name, err)
	}
	return nil
}

// Delete deletes the user's Workspace; garbage collection removes every object the operator
// made for it (owner references). The home PVC goes with it only when its reclaimPolicy is
// Delete; with Retain (the default) it carries no owner reference and stays, and a new
// Workspace of the same user (and name) mounts it again. ErrNotFound if there is none.
func (b *Backend) Delete(ctx context.Context, ref backend.Ref) error {
	ws := &codehubv1.Workspace{}
	if err := b.cfg.Client.Get(ctx, b.key(ref), ws); err != nil {
		if apierrors.IsNotFound(err) {
			return backend.ErrNotFound
		}
		return err
	}
	b.creds.forget(ws.Name)
	err := b.cfg.Client.Delete(ctx, ws, client.Preconditions{UID: &ws.UID}, client.PropagationPolicy(metav1.DeletePropagationBackground))
	if apierrors.IsNotFound(err) {
		return backend.ErrNotFound
	}
	return err
}

// DeleteEffect says what Delete does to the user's files, from the Workspace's home.
func (b *Backend) DeleteEffect(ctx context.Context, ref backend.Ref) (string, error) {
	ws := &codehubv1.Workspace{}
	if err := b.cfg.Client.Get(ctx, b.key(ref), ws); err != nil {
		if apierrors.IsNotFound(err) {
			return "", backend.ErrNotFound
		}
		return "", err
	}
	h := ws.Spec.Home
	switch {
	case h.ExistingClaim != "":
		return fmt.Sprintf("The workspace's objects are deleted; the home volume, the existing claim %q, is not the operator's and stays.", h.ExistingClaim), nil
	case h.V3IO != nil:
		return "The workspace's objects are deleted; the home directory on v3io is the platform's and stays.", nil
	case workspacebuild.ReclaimPolicy(ws) == codehubv1.ReclaimDelete:
		return fmt.Sprintf("The workspace and its home volume (PVC %s, reclaimPolicy Delete) are deleted: its files are gone.", workspacebuild.HomeClaimName(ws)), nil
	}
	return fmt.Sprintf("The workspace's objects are deleted; its home volume (PVC %s, reclaimPolicy Retain) stays, and a new workspace of the same user and name mounts it again. An admin deletes it with kubectl delete pvc.", workspacebuild.HomeClaimName(ws)), nil
}
