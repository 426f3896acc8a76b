package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/profile"
)

// The per-workspace API: GET, start (with an optional profile), stop and DELETE of
// /_codehub/api/v1/workspaces/{user} (the default workspace) and
// /_codehub/api/v1/workspaces/{user}/{name} (a named one; its start creates it). Users
// manage their own workspaces and admins anyone's. None of it gives access to a
// workspace's content: the proxy routes by the caller's own identity.

// apiTarget authenticates the call and checks that the caller may manage the workspace
// the path names; it writes the error response itself.
func (g *Gateway) apiTarget(w http.ResponseWriter, r *http.Request) (id identity.Identity, target backend.Ref, ok bool) {
	id, ok = g.apiIdentity(w, r)
	if !ok {
		return id, target, false
	}
	target = backend.Ref{User: r.PathValue("user"), Name: r.PathValue("name")}
	if target.User != id.User && !id.Admin {
		writeJSON(w, http.StatusForbidden, apiError{"only admins may manage other users' workspaces"})
		return id, target, false
	}
	if target.Name != "" {
		if err := identity.CheckWorkspaceName(target.Name); err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{err.Error()})
			return id, target, false
		}
	}
	return id, target, true
}

// noWorkspace says that target does not exist, and how it comes to.
func noWorkspace(target backend.Ref) string {
	if target.Name != "" {
		return fmt.Sprintf("user %q has no workspace named %q (a start creates it: codehub workspaces start --name %s)", target.User, target.Name, target.Name)
	}
	return fmt.Sprintf("user %q has no workspace (it is created on their first visit or start)", target.User)
}

// existing reports target's workspace, or writes 404 (no such workspace) or 503.
func (g *Gateway) existing(w http.ResponseWriter, r *http.Request, target backend.Ref) (backend.Workspace, bool) {
	ws, err := g.cfg.Backend.Get(r.Context(), target)
	switch {
	case errors.Is(err, backend.ErrNotFound):
		writeJSON(w, http.StatusNotFound, apiError{noWorkspace(target)})
		return ws, false
	case err != nil:
		writeJSON(w, http.StatusServiceUnavailable, apiError{"backend unavailable"})
		return ws, false
	}
	return ws, true
}

func (g *Gateway) apiGetWorkspace(w http.ResponseWriter, r *http.Request) {
	_, target, ok := g.apiTarget(w, r)
	if !ok {
		return
	}
	if ws, ok := g.existing(w, r, target); ok {
		writeJSON(w, http.StatusOK, g.workspaceJSON(ws))
	}
}

// apiStart starts target's workspace; the body may choose its profile: {"profile":"gpu"}.
// Owners may choose the profiles open to their groups; an admin any profile, for anyone.
// The workspace runs as its owner, from the owner's record in the backend: the caller's
// unix ids and groups are passed only when the caller is the owner.
func (g *Gateway) apiStart(w http.ResponseWriter, r *http.Request) {
	id, target, ok := g.apiTarget(w, r)
	if !ok {
		return
	}
	var req struct {
		Profile string `json:"profile"`
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFormBytes))
	if err == nil && len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		err = dec.Decode(&req)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{`the body must be empty or JSON like {"profile": "gpu"}`})
		return
	}
	ctx := r.Context()
	if target.User != id.User {
		if _, ok := g.existing(w, r, target); !ok {
			return
		}
		// An admin acting for the owner vouches for the profile: the owner's groups are
		// not known here, and checking the admin's identity's groups would be wrong.
		ctx = backend.WithProfileChecked(ctx)
	}
	if req.Profile != "" {
		p, found := g.cfg.Profiles.Get(req.Profile)
		if !found {
			writeJSON(w, http.StatusNotFound, apiError{fmt.Sprintf("no profile %q (codehub profiles list shows the profiles you may use)", req.Profile)})
			return
		}
		if target.User == id.User && !p.Allows(id.Groups, id.Admin) {
			writeJSON(w, http.StatusForbidden, apiError{fmt.Sprintf("profile %q is open to the groups %s only", p.Name, strings.Join(p.Groups, ", "))})
			return
		}
		if !g.canSetProfiles() {
			writeJSON(w, http.StatusNotImplemented, apiError{"this backend does not apply profiles"})
			return
		}
		if cur, err := g.cfg.Backend.Get(ctx, target); err == nil && cur.Profile != p.Name && (cur.State == backend.StateRunning || cur.State == backend.StateStarting) {
			runs := fmt.Sprintf("with profile %q", cur.Profile)
			if cur.Profile == "" {
				runs = "without a profile"
			}
			writeJSON(w, http.StatusConflict, apiError{fmt.Sprintf("%s runs %s; stop it first to start it with %q", describe(target), runs, p.Name)})
			return
		}
		if err := g.setProfile(ctx, id.User, target, p.Name); errors.Is(err, backend.ErrRefused) || errors.Is(err, errLimit) {
			writeJSON(w, http.StatusForbidden, apiError{err.Error()})
			return
		} else if err != nil {
			writeJSON(w, http.StatusInternalServerError, apiError{err.Error()})
			return
		}
	}
	started, err := g.startWorkspace(r.Context(), id, target, "API")
	if errors.Is(err, backend.ErrNotFound) {
		writeJSON(w, http.StatusNotFound, apiError{noWorkspace(target)})
		return
	} else if errors.Is(err, backend.ErrRefused) || errors.Is(err, errLimit) {
		writeJSON(w, http.StatusForbidden, apiError{err.Error()})
		return
	} else if err != nil {
		writeJSON(w, http.StatusConflict, apiError{err.Error()})
		return
	}
	g.cfg.Logger.Info("workspace API", "action", "start", "target", target.String(), "by", id.User, "profile", started.Profile)
	out := g.workspaceJSON(started)
	if ws, err := g.cfg.Backend.Get(r.Context(), target); err == nil {
		notice := started.Notice // the start's own word on a replaced profile
		out = g.workspaceJSON(ws)
		if notice != "" {
			out.Notice = notice
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (g *Gateway) apiStop(w http.ResponseWriter, r *http.Request) {
	id, target, ok := g.apiTarget(w, r)
	if !ok {
		return
	}
	if _, ok := g.existing(w, r, target); !ok {
		return
	}
	if err := g.stopWorkspace(r.Context(), id.User, target, "API"); err != nil {
		writeJSON(w, http.StatusInternalServerError, apiError{err.Error()})
		return
	}
	g.cfg.Logger.Info("workspace API", "action", "stop", "target", target.String(), "by", id.User)
	g.writeWorkspace(w, r, target)
}

// deletedJSON answers a DELETE: which workspace, and what happened to its files.
type deletedJSON struct {
	Name    string `json:"name"`
	User    string `json:"user"`
	Named   string `json:"workspace,omitempty"`
	Deleted bool   `json:"deleted"`
	Files   string `json:"files"`
}

// apiDelete deletes target's workspace (the owner or an admin). The response says what
// happened to its files, as the backend describes it before deleting.
func (g *Gateway) apiDelete(w http.ResponseWriter, r *http.Request) {
	id, target, ok := g.apiTarget(w, r)
	if !ok {
		return
	}
	if !g.canDelete() {
		writeJSON(w, http.StatusNotImplemented, apiError{"this backend cannot delete workspaces"})
		return
	}
	ws, ok := g.existing(w, r, target)
	if !ok {
		return
	}
	files := "The workspace is deleted."
	if d, ok := g.cfg.Backend.(backend.DeleteDescriber); ok {
		if s, err := d.DeleteEffect(r.Context(), target); err == nil {
			files = s
		}
	}
	if err := g.deleteWorkspace(r.Context(), id.User, target, "API"); errors.Is(err, backend.ErrNotFound) {
		writeJSON(w, http.StatusNotFound, apiError{noWorkspace(target)})
		return
	} else if err != nil {
		writeJSON(w, http.StatusInternalServerError, apiError{err.Error()})
		return
	}
	g.cfg.Logger.Info("workspace API", "action", "delete", "target", target.String(), "by", id.User)
	writeJSON(w, http.StatusOK, deletedJSON{Name: ws.Name, User: target.User, Named: target.Name, Deleted: true, Files: files})
}

// profileJSON is a profile as the API lists it, with the fields this gateway's backend
// does not apply (the local backend: image, CPU, memory, GPUs, placement).
type profileJSON struct {
	profile.Profile
	Ignored []string `json:"ignored,omitempty"`
}

// ignoredFields is implemented by backends that apply only part of a profile.
type ignoredFields interface {
	IgnoredProfileFields(profile.Profile) []string
}

// apiListProfiles lists the profiles the caller may use (admins: all), the default first.
func (g *Gateway) apiListProfiles(w http.ResponseWriter, r *http.Request) {
	id, ok := g.apiIdentity(w, r)
	if !ok {
		return
	}
	out := []profileJSON{}
	ig, _ := g.cfg.Backend.(ignoredFields)
	for _, p := range g.cfg.Profiles.For(id.Groups, id.Admin) {
		pj := profileJSON{Profile: p}
		if ig != nil {
			pj.Ignored = ig.IgnoredProfileFields(p)
		}
		out = append(out, pj)
	}
	writeJSON(w, http.StatusOK, map[string]any{"profiles": out})
}
