package local

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/session"
)

// Isolation says how local workspaces are kept apart. A workspace is a shell for its user,
// so only separate unix users keep one user out of another's files and processes.
type Isolation string

const (
	// IsolationUIDs runs every workspace as its own unix uid/gid (the gateway must be root).
	IsolationUIDs Isolation = "uids"
	// IsolationSingleUser runs the workspace as the gateway's own user and serves exactly
	// one person: a second user's workspace is refused.
	IsolationSingleUser Isolation = "single-user"
	// IsolationSharedUID runs every workspace as the gateway's own user for a trusted team:
	// everyone can act as everyone (read each other's files, reach each other's editors).
	IsolationSharedUID Isolation = "shared-uid"
)

// UIDSource hands out the stable unix uid of a local user (the users file); ok is false for
// a name that is not a local user.
type UIDSource func(user string) (uid int64, ok bool, err error)

// owner is a workspace's owner record (owner.json, gateway-only): who it belongs to and
// the unix ids it runs as, so a start by an admin, a token or the CLI runs it as its
// owner, never as the caller or the gateway.
type owner struct {
	User string `json:"user"`
	// Workspace is the name of a named workspace among its owner's ("" = the default).
	Workspace string `json:"workspace,omitempty"`
	UID       *int64 `json:"uid,omitempty"`
	GID       *int64 `json:"gid,omitempty"`
	// Profile is the workspace's profile (profile.go); Created when it was first recorded.
	Profile string    `json:"profile,omitempty"`
	Created time.Time `json:"created,omitzero"`
}

const ownerRecord = "owner.json"

// readOwner reads a workspace's owner record; the plain "owner" file of older versions
// gives the user name alone.
func readOwner(dir string) (owner, error) {
	var o owner
	data, err := os.ReadFile(filepath.Join(dir, ownerRecord))
	if err == nil {
		if err := json.Unmarshal(data, &o); err != nil {
			return owner{}, fmt.Errorf("%s: %w", filepath.Join(dir, ownerRecord), err)
		}
		return o, nil
	}
	legacy, lerr := os.ReadFile(filepath.Join(dir, ownerFile))
	if lerr != nil {
		return owner{}, err
	}
	return owner{User: strings.TrimSpace(string(legacy))}, nil
}

func writeOwner(dir string, o owner) error {
	data, err := json.Marshal(o)
	if err != nil {
		return err
	}
	return session.WriteFileAtomic(filepath.Join(dir, ownerRecord), append(data, '\n'), 0o600)
}

// check refuses a record that belongs to another user or another workspace of the same
// user (a directory is never taken over, whatever the caller asks).
func (o owner) check(dirName, user, named string) error {
	switch {
	case o.User != "" && o.User != user:
		return fmt.Errorf("workspace %s belongs to %q, not %q", dirName, o.User, user)
	case o.User != "" && o.Workspace != named:
		return fmt.Errorf("workspace %s is %q's workspace %q, not %q", dirName, user, o.Workspace, named)
	}
	return nil
}

// errRefused wraps backend.ErrRefused with the reason a user reads on the progress page.
func errRefused(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{backend.ErrRefused}, args...)...)
}

// credentialFor decides the unix ids id's workspace runs as, from its owner's record: the
// platform ids when the owner's own identity carries them (and remembers them), else the
// ids remembered from an earlier start, else the local user's allocated uid. In uid mode a
// workspace without ids is refused, never started as the gateway's own user; ids below
// 1000 (root, system accounts) are refused too. In the other modes it returns nil (run as
// the gateway's user) after the mode's own check.
func (b *Backend) credentialFor(id identity.Identity, named, dir string) (*syscall.Credential, error) {
	rec, err := readOwner(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := rec.check(filepath.Base(dir), id.User, named); err != nil {
		return nil, err
	}
	rec.User, rec.Workspace = id.User, named
	switch b.cfg.Isolation {
	case IsolationSingleUser:
		if other := b.otherOwner(id.User); other != "" {
			return nil, errRefused("this gateway runs every workspace as its own unix user (%s) and already serves %q; "+
				"it can serve more people only when it runs as root (one unix uid per workspace) or with --shared-unix-user (a trusted team: everyone can act as everyone)",
				b.selfName(), other)
		}
		return nil, writeOwner(dir, rec)
	case IsolationSharedUID:
		return nil, writeOwner(dir, rec)
	}
	if id.UID != nil {
		rec.UID, rec.GID = id.UID, id.GID
	}
	if rec.UID == nil && named != "" {
		// A named workspace runs as its owner's default one does (the same person: one
		// unix user), so an API start without the platform's ids still finds them.
		if def, err := readOwner(b.dirOf(identity.WorkspaceName(id.User))); err == nil && def.User == id.User {
			rec.UID, rec.GID = def.UID, def.GID
		}
	}
	if rec.UID == nil && b.cfg.UIDs != nil {
		uid, ok, err := b.cfg.UIDs(id.User)
		if err != nil {
			return nil, fmt.Errorf("allocate a unix uid for %q: %w", id.User, err)
		}
		if ok {
			rec.UID, rec.GID = &uid, &uid
		}
	}
	if rec.UID == nil {
		return nil, errRefused("no unix uid is known for %q: every workspace here runs as its own unix user; "+
			"the platform must send one (X-Unix-Uid / --forward-uid-header, --oidc-uid-claim) or the user must be a local user", id.User)
	}
	uid, gid := *rec.UID, *rec.UID
	if rec.GID != nil {
		gid = *rec.GID
	}
	if uid < 1000 || gid < 1000 || uid > 1<<31 || gid > 1<<31 {
		return nil, errRefused("unix ids %d:%d for %q are reserved for the system; workspaces never run as root or a system account", uid, gid, id.User)
	}
	if err := writeOwner(dir, rec); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// otherOwner returns a user other than user who has a workspace here ("" if none).
func (b *Backend) otherOwner(user string) string {
	b.mu.Lock()
	for _, inst := range b.ws {
		if inst.user != user {
			b.mu.Unlock()
			return inst.user
		}
	}
	b.mu.Unlock()
	entries, _ := os.ReadDir(b.cfg.Dir)
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if rec, err := readOwner(filepath.Join(b.cfg.Dir, e.Name())); err == nil && rec.User != "" && rec.User != user {
			return rec.User
		}
	}
	return ""
}

func (b *Backend) selfName() string {
	if name := os.Getenv("USER"); name != "" {
		return name
	}
	return fmt.Sprintf("uid %d", os.Geteuid())
}
