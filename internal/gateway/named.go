package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"

	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/identity"
)

// Named workspaces: besides her default workspace (served at / as before), a user may have
// up to Config.MaxWorkspaces-1 more, each with its own home. Without per-workspace origins
// one is served at /w/<name>/ on the main host (the prefix is stripped before code-server,
// whose URLs are relative); with them, on its own host <full name>.<base> like the default.
// The workspace a request reaches is always one of the signed-in user's own: the path
// names one of hers, never anyone else's (see serveWorkspace).

// DefaultMaxWorkspaces is how many workspaces a user may have, the default one included,
// unless the admin says otherwise (--max-workspaces).
const DefaultMaxWorkspaces = 3

// namedPrefix is where a named workspace lives on the main host without per-workspace
// origins. code-server has no path of its own under it.
const namedPrefix = "/w/"

// errLimit marks a refused creation beyond the user's limit.
var errLimit = errors.New("workspace limit reached")

// maxWorkspaces is the limit in force (the default one counted).
func (g *Gateway) maxWorkspaces() int {
	if g.cfg.MaxWorkspaces <= 0 {
		return DefaultMaxWorkspaces
	}
	return g.cfg.MaxWorkspaces
}

// userWorkspaces lists user's workspaces, the default first, then by name.
func (g *Gateway) userWorkspaces(ctx context.Context, user string) ([]backend.Workspace, error) {
	all, err := g.cfg.Backend.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []backend.Workspace
	for _, ws := range all {
		if ws.User == user {
			out = append(out, ws)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Named < out[j].Named })
	return out, nil
}

// createLock holds the creation of user's named workspaces until the returned func is
// called: a limit check and the creation it allows are one step on this gateway. (Two
// replicas of a Kubernetes gateway can still each create one at the same moment.)
func (g *Gateway) createLock(user string) func() {
	v, _ := g.creating.LoadOrStore(user, &sync.Mutex{})
	mu := v.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// checkLimit refuses to create ref when its owner has the most workspaces she may have.
// The default workspace counts whether or not it exists yet, so a user is never kept out
// of the one everybody has. Callers hold createLock.
func (g *Gateway) checkLimit(ctx context.Context, ref backend.Ref) error {
	list, err := g.userWorkspaces(ctx, ref.User)
	if err != nil {
		return err
	}
	n := 1 // the default workspace
	for _, ws := range list {
		if ws.Named != "" && ws.Named != ref.Name {
			n++
		}
	}
	if max := g.maxWorkspaces(); n >= max {
		return fmt.Errorf("%w: you have %d workspaces, the most allowed here (%d, your default workspace included); delete one to create %q", errLimit, n, max, ref.Name)
	}
	return nil
}

// stopUserWorkspaces stops every workspace of user (the default one even when the list
// misses it: stopping a stopped one is a no-op).
func (g *Gateway) stopUserWorkspaces(ctx context.Context, actor, user, via string) error {
	errs := []error{g.stopWorkspace(ctx, actor, backend.Default(user), via)}
	list, err := g.userWorkspaces(ctx, user)
	errs = append(errs, err)
	for _, ws := range list {
		if ws.Named != "" {
			errs = append(errs, g.stopWorkspace(ctx, actor, ws.Ref(), via))
		}
	}
	return errors.Join(errs...)
}

// deleteUserWorkspaces deletes every workspace of user with its files (ErrNotFound of
// one that is already gone is no failure).
func (g *Gateway) deleteUserWorkspaces(ctx context.Context, actor, user, via string) error {
	refs := []backend.Ref{backend.Default(user)}
	list, err := g.userWorkspaces(ctx, user)
	if err != nil {
		return err
	}
	for _, ws := range list {
		if ws.Named != "" {
			refs = append(refs, ws.Ref())
		}
	}
	var errs []error
	for _, ref := range refs {
		if err := g.deleteWorkspace(ctx, actor, ref, via); err != nil && !errors.Is(err, backend.ErrNotFound) {
			errs = append(errs, fmt.Errorf("%s: %w", describe(ref), err))
		}
	}
	return errors.Join(errs...)
}

// formRef reads the workspace a form names: field "user" and optional "name" (a named
// workspace of that user).
func formRef(r *http.Request, user string) (backend.Ref, error) {
	ref := backend.Ref{User: user, Name: r.PostForm.Get("name")}
	if ref.Name != "" {
		if err := identity.CheckWorkspaceName(ref.Name); err != nil {
			return backend.Ref{}, err
		}
	}
	return ref, nil
}

// describe names a workspace for people: "alice's workspace" or "alice's workspace dev".
func describe(ref backend.Ref) string {
	if ref.Name == "" {
		return ref.User + "'s workspace"
	}
	return ref.User + "'s workspace " + ref.Name
}

// parseNamedPath splits a main-host path under namedPrefix: the workspace's name and the
// path within it. ok is false for paths outside the prefix. A bad name is reported as err
// (never passed on to any workspace); exact is true for "/w/<name>" without the slash.
func parseNamedPath(path string) (name, rest string, exact, ok bool, err error) {
	tail, found := strings.CutPrefix(path, namedPrefix)
	if !found {
		return "", "", false, false, nil
	}
	name, rest, slash := strings.Cut(tail, "/")
	if err := identity.CheckWorkspaceName(name); err != nil {
		return "", "", false, true, err
	}
	if !slash {
		return name, "", true, true, nil
	}
	return name, "/" + rest, false, true, nil
}

// namedURL is where a named workspace opens for a visitor of the main host.
func (g *Gateway) namedURL(ref backend.Ref) string {
	if ref.Name == "" {
		return "/"
	}
	if g.origins != nil {
		return "/_codehub/open?w=" + url.QueryEscape(ref.Name)
	}
	return namedPrefix + ref.Name + "/"
}

// serveNamed serves a main-host request under namedPrefix (no per-workspace origins): the
// signed-in user's own workspace of that name only.
func (g *Gateway) serveNamed(w http.ResponseWriter, r *http.Request, id identity.Identity) {
	name, rest, exact, _, err := parseNamedPath(r.URL.Path)
	if err != nil {
		g.notFound(w, r, "No such workspace: "+err.Error()+".")
		return
	}
	if exact {
		target := namedPrefix + name + "/"
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusMovedPermanently)
		return
	}
	if strings.HasPrefix(rest, Prefix) {
		// The gateway's own paths are the gateway's, as on a workspace host: never passed on.
		http.NotFound(w, r)
		return
	}
	ref := backend.Ref{User: id.User, Name: name}
	if interceptsContent(rest) && g.interceptContent(w, stripped(r, namedPrefix+name), ref.FullName()) {
		return
	}
	g.proxyWorkspace(w, r, id, ref, namedPrefix+name)
}

// stripped is r with prefix taken off its path (as http.StripPrefix does), for the
// workspace behind it.
func stripped(r *http.Request, prefix string) *http.Request {
	if prefix == "" {
		return r
	}
	r2 := new(http.Request)
	*r2 = *r
	u := *r.URL
	u.Path = strings.TrimPrefix(r.URL.Path, prefix)
	raw, found := strings.CutPrefix(r.URL.RawPath, prefix)
	if !found {
		raw = "" // an escaped spelling of the prefix: the decoded path is the truth
	}
	u.RawPath = raw
	if u.Path == "" {
		u.Path = "/"
	}
	r2.URL = &u
	return r2
}

// notFound answers 404: a page for a visit, plain text for a script.
func (g *Gateway) notFound(w http.ResponseWriter, r *http.Request, msg string) {
	if isNavigation(r) {
		render(w, http.StatusNotFound, "error.html", pageData{Title: "Not found", Message: msg})
		return
	}
	http.Error(w, msg, http.StatusNotFound)
}
