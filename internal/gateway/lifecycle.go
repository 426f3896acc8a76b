package gateway

import (
	"context"
	"errors"

	"github.com/codehub-dev/codehub/internal/audit"
	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/identity"
)

// The workspace lifecycle as every caller (home page, admin page, API, the workspace's own
// agent, account deletion) performs it, each step audited. Stopping always goes the way the
// backend's own stop notice goes (workspaceStopped → dropRoute): the route goes and the
// open tabs are told at once, then the backend stops it.

// errNotSupported is what a page says for an optional backend capability it lacks.
var errNotSupported = errors.New("not supported by this backend")

// actorSystem is the audit actor of what no person asked for (idle stops, deleted accounts).
const actorSystem = "system"

// record audits one action on a workspace, or on a user's account (ref.User "" = none).
func (g *Gateway) record(actor, action string, ref backend.Ref, detail string, err error) {
	e := audit.Event{Actor: actor, Action: action, User: ref.User, Detail: detail, Outcome: audit.OK}
	if ref.User != "" {
		e.Workspace = ref.FullName()
	}
	switch {
	case errors.Is(err, backend.ErrRefused), errors.Is(err, errNotSupported), errors.Is(err, errForbidden), errors.Is(err, errLimit):
		e.Outcome, e.Detail = audit.Refused, joinDetail(detail, err.Error())
	case err != nil:
		e.Outcome, e.Detail = audit.Failed, joinDetail(detail, err.Error())
	}
	g.cfg.Audit.Record(e)
}

// errForbidden marks an action refused by policy (an audited refusal, not a failure).
var errForbidden = errors.New("forbidden")

func joinDetail(a, b string) string {
	if a == "" {
		return b
	}
	return a + ": " + b
}

// startWorkspace starts target's workspace for caller (its owner, or an admin). The
// workspace runs as its owner, from the owner's record in the backend: the caller's unix
// ids are passed only when the caller is the owner, and another user's workspace must
// exist already (it is created on its owner's first visit, or by its owner's own request).
// Creating a named workspace beyond the owner's limit (Config.MaxWorkspaces) is refused.
func (g *Gateway) startWorkspace(ctx context.Context, caller identity.Identity, target backend.Ref, via string) (backend.Workspace, error) {
	owner := identity.Identity{User: target.User}
	_, err := g.cfg.Backend.Get(ctx, target)
	switch {
	case err != nil && !errors.Is(err, backend.ErrNotFound):
		return backend.Workspace{}, err
	case target.User != caller.User && err != nil:
		return backend.Workspace{}, err
	case target.User != caller.User:
		// An admin acting for the owner vouches for the recorded profile: the owner's
		// groups are not known here, and the admin's own would be the wrong ones.
		ctx = backend.WithProfileChecked(ctx)
	default:
		owner = caller
		if err != nil && target.Name != "" {
			defer g.createLock(target.User)()
			if lerr := g.checkLimit(ctx, target); lerr != nil {
				g.record(caller.User, "workspace.create", target, via, lerr)
				return backend.Workspace{}, lerr
			}
		}
	}
	ws, err := g.cfg.Backend.Start(ctx, owner, target.Name)
	g.record(caller.User, "workspace.start", target, via, err)
	return ws, err
}

// stopWorkspace stops a workspace; its files stay.
func (g *Gateway) stopWorkspace(ctx context.Context, actor string, ref backend.Ref, via string) error {
	g.dropRoute(ref)
	err := g.cfg.Backend.Stop(ctx, ref)
	g.record(actor, "workspace.stop", ref, via, err)
	return err
}

// deleteWorkspace stops a workspace and deletes it with its files, when the backend can
// (backend.Deleter).
func (g *Gateway) deleteWorkspace(ctx context.Context, actor string, ref backend.Ref, via string) error {
	d, ok := g.cfg.Backend.(backend.Deleter)
	return g.optional(ok, actor, "workspace.delete", ref, via, func() error {
		g.dropRoute(ref)
		return d.Delete(ctx, ref)
	})
}

// setProfile records the profile a workspace runs with from its next start, when the
// backend applies profiles (backend.ProfileSetter). The caller checked it is allowed. A
// named workspace that does not exist yet counts against its owner's limit: recording its
// profile creates it.
func (g *Gateway) setProfile(ctx context.Context, actor string, ref backend.Ref, profile string) error {
	s, ok := g.cfg.Backend.(backend.ProfileSetter)
	return g.optional(ok, actor, "workspace.profile", ref, profile, func() error {
		if ref.Name != "" {
			if _, err := g.cfg.Backend.Get(ctx, ref); errors.Is(err, backend.ErrNotFound) {
				defer g.createLock(ref.User)()
				if err := g.checkLimit(ctx, ref); err != nil {
					return err
				}
			}
		}
		return s.SetProfile(ctx, ref, profile)
	})
}

// optional runs act when the backend has the capability (ok), and audits the outcome.
func (g *Gateway) optional(ok bool, actor, action string, ref backend.Ref, detail string, act func() error) error {
	err := errNotSupported
	if ok {
		err = act()
	}
	g.record(actor, action, ref, detail, err)
	return err
}

// canSetProfiles reports whether choosing a profile means anything with this backend.
func (g *Gateway) canSetProfiles() bool {
	_, ok := g.cfg.Backend.(backend.ProfileSetter)
	return ok
}

func (g *Gateway) canDelete() bool {
	_, ok := g.cfg.Backend.(backend.Deleter)
	return ok
}
