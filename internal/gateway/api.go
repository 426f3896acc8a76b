package gateway

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/codehub-dev/codehub/internal/auth"
	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/tokens"
)

// The JSON API under /_codehub/api/v1. Callers authenticate with a personal token
// (Authorization: Bearer chub_…) or with their browser session; a session-authenticated
// state change must be same-origin (http.CrossOriginProtection in front of everything)
// and must send JSON, which a cross-site form cannot do without a CORS preflight.
func (g *Gateway) apiRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /_codehub/api/v1/workspaces", g.apiListWorkspaces)
	mux.HandleFunc("GET /_codehub/api/v1/workspaces/{user}", g.apiGetWorkspace)
	mux.HandleFunc("DELETE /_codehub/api/v1/workspaces/{user}", g.apiDelete)
	mux.HandleFunc("POST /_codehub/api/v1/workspaces/{user}/start", g.apiStart)
	mux.HandleFunc("POST /_codehub/api/v1/workspaces/{user}/stop", g.apiStop)
	mux.HandleFunc("GET /_codehub/api/v1/workspaces/{user}/{name}", g.apiGetWorkspace)
	mux.HandleFunc("DELETE /_codehub/api/v1/workspaces/{user}/{name}", g.apiDelete)
	mux.HandleFunc("POST /_codehub/api/v1/workspaces/{user}/{name}/start", g.apiStart)
	mux.HandleFunc("POST /_codehub/api/v1/workspaces/{user}/{name}/stop", g.apiStop)
	mux.HandleFunc("GET /_codehub/api/v1/profiles", g.apiListProfiles)
	mux.HandleFunc("GET /_codehub/api/v1/tokens", g.apiListTokens)
	mux.HandleFunc("POST /_codehub/api/v1/tokens", g.apiCreateToken)
	mux.HandleFunc("DELETE /_codehub/api/v1/tokens/{id}", g.apiRevokeToken)
	mux.HandleFunc("/_codehub/api/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, apiError{"no such API endpoint"})
	})
}

type apiError struct {
	Error string `json:"error"`
}

// apiIdentity authenticates an API call; it writes the error response itself.
func (g *Gateway) apiIdentity(w http.ResponseWriter, r *http.Request) (identity.Identity, bool) {
	id, viaToken, err := g.apiCaller(r)
	switch {
	case errors.Is(err, auth.ErrUnavailable):
		writeJSON(w, http.StatusServiceUnavailable, apiError{"sign-in service unavailable"})
		return id, false
	case err != nil:
		writeJSON(w, http.StatusUnauthorized, apiError{"not signed in"})
		return id, false
	}
	if !viaToken && r.Method != http.MethodGet && r.Method != http.MethodHead {
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if ct != "application/json" {
			writeJSON(w, http.StatusUnsupportedMediaType, apiError{"send Content-Type: application/json"})
			return id, false
		}
	}
	return id, true
}

func (g *Gateway) apiCaller(r *http.Request) (identity.Identity, bool, error) {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		if g.cfg.Tokens == nil {
			return identity.Identity{}, true, auth.ErrBadCredentials
		}
		t, err := g.cfg.Tokens.Verify(strings.TrimPrefix(h, "Bearer "), g.cfg.Clock.Now())
		if err != nil {
			return identity.Identity{}, true, auth.ErrBadCredentials
		}
		id, ok := g.accountIdentity(identity.Identity{User: t.User, Local: t.Local || g.isAccount(t.User)}, t.Created)
		if !ok {
			return identity.Identity{}, true, auth.ErrBadCredentials
		}
		return g.withAdmin(id), true, nil
	}
	id, err := g.identify(r)
	return id, false, err
}

func (g *Gateway) apiListWorkspaces(w http.ResponseWriter, r *http.Request) {
	id, ok := g.apiIdentity(w, r)
	if !ok {
		return
	}
	list, err := g.cfg.Backend.List(r.Context())
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, apiError{"backend unavailable"})
		return
	}
	out := []workspaceJSON{}
	for _, ws := range list {
		if id.Admin || ws.User == id.User {
			out = append(out, g.workspaceJSON(ws))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"workspaces": out})
}

type tokenJSON struct {
	ID      string     `json:"id"`
	User    string     `json:"user"`
	Name    string     `json:"name"`
	Created time.Time  `json:"created"`
	Expires *time.Time `json:"expires,omitempty"`
	Token   string     `json:"token,omitempty"` // only in the response that creates it
}

func toJSON(t tokens.Token) tokenJSON {
	out := tokenJSON{ID: t.ID, User: t.User, Name: t.Name, Created: t.Created}
	if !t.Expires.IsZero() {
		e := t.Expires
		out.Expires = &e
	}
	return out
}

func (g *Gateway) tokensEnabled(w http.ResponseWriter) bool {
	if g.cfg.Tokens == nil {
		writeJSON(w, http.StatusNotFound, apiError{"API tokens are disabled"})
		return false
	}
	return true
}

func (g *Gateway) apiListTokens(w http.ResponseWriter, r *http.Request) {
	id, ok := g.apiIdentity(w, r)
	if !ok || !g.tokensEnabled(w) {
		return
	}
	user := id.User
	if id.Admin && r.URL.Query().Get("all") == "1" {
		user = ""
	}
	out := []tokenJSON{}
	for _, t := range g.cfg.Tokens.List(user) {
		out = append(out, toJSON(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
}

// apiCreateToken mints a token for the signed-in user. A token cannot mint tokens, so a
// leaked one cannot be used to keep access after it is revoked.
func (g *Gateway) apiCreateToken(w http.ResponseWriter, r *http.Request) {
	if _, viaToken, err := g.apiCaller(r); err == nil && viaToken {
		writeJSON(w, http.StatusForbidden, apiError{"API tokens cannot create tokens; sign in with a browser"})
		return
	}
	id, ok := g.apiIdentity(w, r)
	if !ok || !g.tokensEnabled(w) {
		return
	}
	var req struct {
		Name string `json:"name"`
		TTL  string `json:"ttl"` // Go duration; empty = no expiry
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxFormBytes)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{"body must be JSON: {\"name\": ..., \"ttl\": \"720h\"}"})
		return
	}
	var ttl time.Duration
	if req.TTL != "" {
		var err error
		if ttl, err = time.ParseDuration(req.TTL); err != nil || ttl < 0 {
			writeJSON(w, http.StatusBadRequest, apiError{"ttl must be a duration like 720h"})
			return
		}
	}
	secret, t, err := g.cfg.Tokens.Create(id.User, id.Local, req.Name, ttl, g.cfg.Clock.Now())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{err.Error()})
		return
	}
	g.record(id.User, "token.create", backend.Default(id.User), "API: "+t.ID+" "+t.Name, nil)
	out := toJSON(t)
	out.Token = secret
	writeJSON(w, http.StatusCreated, out)
}

func (g *Gateway) apiRevokeToken(w http.ResponseWriter, r *http.Request) {
	id, ok := g.apiIdentity(w, r)
	if !ok || !g.tokensEnabled(w) {
		return
	}
	t, err := g.cfg.Tokens.Get(r.PathValue("id"))
	if err != nil || (t.User != id.User && !id.Admin) {
		writeJSON(w, http.StatusNotFound, apiError{"no such token"})
		return
	}
	if err := g.cfg.Tokens.Revoke(t.ID); err != nil {
		writeJSON(w, http.StatusInternalServerError, apiError{err.Error()})
		return
	}
	g.record(id.User, "token.revoke", backend.Default(t.User), "API: "+t.ID, nil)
	w.WriteHeader(http.StatusNoContent)
}

// verify answers like an ingress-nginx auth-url target: 200 with the identity in
// headers, 401 when not signed in, 503 when the identity provider is down.
func (g *Gateway) verify(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	id, err := g.identify(r)
	switch {
	case errors.Is(err, auth.ErrUnavailable):
		http.Error(w, "identity provider unavailable", http.StatusServiceUnavailable)
		return
	case err != nil:
		http.Error(w, "not signed in", http.StatusUnauthorized)
		return
	}
	h := w.Header()
	h.Set("X-Remote-User", id.User)
	h.Set("X-Codehub-Workspace", identity.WorkspaceName(id.User))
	if len(id.Groups) > 0 {
		h.Set("X-Remote-Groups", strings.Join(id.Groups, ","))
	}
	if id.UID != nil {
		h.Set("X-Unix-Uid", strconv.FormatInt(*id.UID, 10))
	}
	if id.GID != nil {
		h.Set("X-Unix-Gid", strconv.FormatInt(*id.GID, 10))
	}
	if id.Admin {
		h.Set("X-Codehub-Admin", "true")
	}
	w.WriteHeader(http.StatusOK)
}
