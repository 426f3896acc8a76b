package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/profile"
)

// A local workspace records its profile in its owner record (owner.json). What a process on
// this machine can honour is applied at each start: env (plain values), the idle timeout and,
// with codehub-init, extensions. Image, CPU, memory, GPUs, node selector and tolerations
// need Kubernetes; the start logs which of them the profile sets and the profiles API lists
// them per profile (IgnoredProfileFields), so nobody believes a limit is enforced.

// IgnoredProfileFields names the fields of p this backend does not apply.
func (b *Backend) IgnoredProfileFields(p profile.Profile) []string {
	out := p.KubernetesOnly()
	if len(p.Extensions) > 0 && b.cfg.Init == "" {
		out = append(out, "extensions") // only codehub-init installs them
	}
	if slices.ContainsFunc(p.Env, func(e corev1.EnvVar) bool { return e.ValueFrom != nil }) {
		out = append(out, "env.valueFrom")
	}
	return out
}

// chooseProfile resolves the profile of a start from the owner record, records it there
// (with the creation time on the first start) and hands it to the instance.
func (b *Backend) chooseProfile(ctx context.Context, id identity.Identity, inst *instance) error {
	rec, err := readOwner(inst.dir)
	if err != nil {
		return err
	}
	p, notice, ok := b.cfg.Profiles.Resolve(rec.Profile, id.Groups, id.Admin, backend.ProfileChecked(ctx))
	if !ok {
		return errRefused("no workspace profile is open to %q; an admin must add one of their groups to a profile", id.User)
	}
	if rec.Profile != p.Name || rec.Created.IsZero() {
		rec.Profile = p.Name
		if rec.Created.IsZero() {
			rec.Created = b.cfg.Clock.Now()
		}
		if err := writeOwner(inst.dir, rec); err != nil {
			return err
		}
	}
	if ignored := b.IgnoredProfileFields(p); len(ignored) > 0 {
		b.cfg.Logger.Info("workspace profile: the local backend ignores some fields", "workspace", inst.name, "profile", p.Name, "ignored", strings.Join(ignored, ","))
	}
	if notice != "" {
		b.cfg.Logger.Info("workspace profile fallback", "workspace", inst.name, "notice", notice)
	}
	inst.mu.Lock()
	inst.profile, inst.notice, inst.recorded, inst.created = p, notice, rec.Profile, rec.Created
	inst.mu.Unlock()
	return nil
}

// SetProfile records the profile the user's workspace starts with next (a running one
// keeps its environment until then). It may precede the first start.
func (b *Backend) SetProfile(_ context.Context, ref backend.Ref, name string) error {
	if _, ok := b.cfg.Profiles.Get(name); !ok {
		return fmt.Errorf("no profile %q", name)
	}
	user := ref.User
	wsName := ref.FullName()
	dir := b.dirOf(wsName)
	rec, err := readOwner(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := rec.check(wsName, user, ref.Name); err != nil {
		return err
	}
	if rec.User == "" && b.cfg.Isolation == IsolationSingleUser {
		// A record for a second person would refuse the one this gateway serves.
		if other := b.otherOwner(user); other != "" {
			return errRefused("this gateway serves only %q (one unix user); it cannot keep a workspace for %q", other, user)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("workspace dir: %w", err)
	}
	rec.User, rec.Workspace, rec.Profile = user, ref.Name, name
	if rec.Created.IsZero() {
		rec.Created = b.cfg.Clock.Now()
	}
	if err := writeOwner(dir, rec); err != nil {
		return err
	}
	b.mu.Lock()
	inst := b.ws[wsName]
	b.mu.Unlock()
	if inst != nil {
		inst.mu.Lock()
		inst.recorded, inst.created = rec.Profile, rec.Created
		inst.mu.Unlock()
	}
	return nil
}

// DeleteEffect says what Delete does to the files.
func (b *Backend) DeleteEffect(_ context.Context, ref backend.Ref) (string, error) {
	dir := b.dirOf(ref.FullName())
	if _, err := os.Stat(dir); err != nil {
		return "", backend.ErrNotFound
	}
	return fmt.Sprintf("The workspace is stopped and its directory %s is removed with everything in it: the home directory (all files), settings and extensions.", dir), nil
}

// Delete stops the user's workspace and removes its directory. Starts of it are refused
// until the removal is done.
func (b *Backend) Delete(ctx context.Context, ref backend.Ref) error {
	name := ref.FullName()
	dir := b.dirOf(name)
	b.mu.Lock()
	if b.deleting[name] {
		b.mu.Unlock()
		return errors.New("the workspace is already being deleted")
	}
	inst := b.ws[name]
	if _, err := os.Stat(dir); err != nil && inst == nil {
		b.mu.Unlock()
		return backend.ErrNotFound
	}
	b.deleting[name] = true
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.deleting, name)
		b.mu.Unlock()
	}()
	if inst != nil {
		if err := inst.stop(ctx); err != nil {
			return fmt.Errorf("stop before delete: %w", err)
		}
		b.mu.Lock()
		if b.ws[name] == inst {
			delete(b.ws, name)
		}
		b.mu.Unlock()
	}
	if err := removeTree(dir); err != nil {
		return fmt.Errorf("delete workspace %s: %w", name, err)
	}
	if err := removeTree(b.sockDirOf(name)); err != nil {
		return fmt.Errorf("delete workspace %s: %w", name, err)
	}
	b.cfg.Logger.Info("workspace deleted", "workspace", name, "dir", dir)
	return nil
}

// removeTree removes dir; directories a user made read-only (Go's module cache does) are
// made writable first, which matters when the gateway is not root.
func removeTree(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// profileEnv is the profile's plain-valued env as KEY=value (valueFrom needs Kubernetes).
func profileEnv(p profile.Profile) []string {
	var out []string
	for _, e := range p.Env {
		if e.ValueFrom == nil {
			out = append(out, e.Name+"="+e.Value)
		}
	}
	return out
}

// idleTimeout is the profile's idle timeout, else the gateway's (in.mu held).
func (in *instance) idleTimeout() time.Duration {
	if t := in.profile.Idle(); t > 0 {
		return t
	}
	return in.cfg.IdleTimeout
}
