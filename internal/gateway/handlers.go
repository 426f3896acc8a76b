package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/codehub-dev/codehub/internal/auth"
	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/identity"
)

// maxFormBytes bounds sign-in and button forms; they carry a few short fields.
const maxFormBytes = 16 << 10

func (g *Gateway) internalMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_codehub/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /_codehub/login", g.loginPage)
	mux.HandleFunc("POST /_codehub/login", g.login)
	mux.HandleFunc("GET /_codehub/logout", g.logoutPage)
	mux.HandleFunc("POST /_codehub/logout", g.logout)
	mux.HandleFunc("POST /_codehub/start", g.startAgain)
	mux.HandleFunc("GET /_codehub/api/v1/workspace", g.workspaceStatus)
	mux.HandleFunc("GET /_codehub/open", g.open)
	mux.HandleFunc("GET /_codehub/auth/verify", g.verify)
	mux.HandleFunc("POST /_codehub/auth/verify", g.verify)
	g.apiRoutes(mux)
	g.idleRoutes(mux)      // agent API (agentapi.go)
	g.dashboardRoutes(mux) // the user's home page (dashboard.go)
	g.adminRoutes(mux)     // the admin page (admin.go)
	if g.cfg.Interactive != nil {
		mux.Handle("/_codehub/"+g.cfg.Interactive.Name()+"/", g.cfg.Interactive.Handler(g.signedIn))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		render(w, http.StatusNotFound, "error.html", pageData{Title: "Not found", Message: "There is no such codehub page."})
	})
	return mux
}

func (g *Gateway) loginPage(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if g.cfg.Passwords == nil {
		if g.cfg.Interactive != nil {
			http.Redirect(w, r, g.cfg.Interactive.LoginPath(next), http.StatusSeeOther)
			return
		}
		render(w, http.StatusNotFound, "error.html", pageData{Title: "Sign in", Message: "Sign in through the platform."})
		return
	}
	data := pageData{Title: "Sign in", Next: next}
	if g.cfg.Interactive != nil {
		data.SSO = g.cfg.Interactive.LoginPath(next)
	}
	if r.URL.Query().Get("signed_out") != "" {
		data.Notice = "You have signed out."
	}
	render(w, http.StatusOK, "login.html", data)
}

func (g *Gateway) login(w http.ResponseWriter, r *http.Request) {
	if g.cfg.Passwords == nil {
		http.Error(w, "password sign-in is disabled", http.StatusNotFound)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		render(w, http.StatusBadRequest, "login.html", pageData{Title: "Sign in", Error: "The form could not be read.", Next: "/"})
		return
	}
	user, password, next := r.PostForm.Get("username"), r.PostForm.Get("password"), safeNext(r.PostForm.Get("next"))
	addr, now := clientAddr(r, g.cfg.TrustedProxies), g.cfg.Clock.Now()
	// Never log what was typed as a user name: it may be a password.
	logUser := identity.LogName(user)
	refuse := func(status int, msg string) {
		g.cfg.Metrics.LoginFailures.Inc()
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "60")
		}
		render(w, status, "login.html", pageData{Title: "Sign in", Error: msg, Next: next})
	}
	tk, ok := g.throttle.reserve(user, addr, g.cfg.Passwords.Exists(user), now)
	if !ok {
		g.cfg.Logger.Warn("sign-in throttled", "user_hash", logUser, "remote", addr)
		refuse(http.StatusTooManyRequests, "Too many failed sign-ins. Wait a few minutes and try again.")
		return
	}
	if !g.hashing.acquire(r.Context()) {
		tk.cancel()
		g.cfg.Logger.Warn("sign-in busy", "remote", addr)
		refuse(http.StatusTooManyRequests, "Sign-in is busy right now. Try again in a moment.")
		return
	}
	id, err := g.cfg.Passwords.Authenticate(r.Context(), user, password)
	g.hashing.release()
	switch {
	case errors.Is(err, auth.ErrBadCredentials):
		tk.fail(g.cfg.Clock.Now())
		g.cfg.Logger.Info("sign-in refused", "user_hash", logUser, "remote", addr)
		refuse(http.StatusUnauthorized, "Wrong user name or password.")
		return
	case err != nil:
		tk.cancel()
		g.cfg.Logger.Error("sign-in failed", "provider", g.cfg.Passwords.Name(), "err", err)
		refuse(http.StatusServiceUnavailable, "Sign-in is unavailable right now; please try again.")
		return
	}
	tk.succeed()
	g.signedIn(w, r, id, next)
}

// signedIn issues the session after any successful interactive sign-in.
func (g *Gateway) signedIn(w http.ResponseWriter, r *http.Request, id identity.Identity, next string) {
	id = g.withAdmin(id)
	if err := g.issueSession(w, id); err != nil {
		g.cfg.Logger.Error("issue session", "err", err)
		render(w, http.StatusInternalServerError, "error.html", pageData{Title: "Error", Message: "Could not create a session."})
		return
	}
	g.cfg.Logger.Info("signed in", "user", id.User, "remote", r.RemoteAddr)
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
}

func (g *Gateway) logoutPage(w http.ResponseWriter, r *http.Request) {
	s, id, ok := g.currentSession(r)
	if !ok {
		http.Redirect(w, r, "/_codehub/login", http.StatusSeeOther)
		return
	}
	render(w, http.StatusOK, "logout.html", pageData{Title: "Sign out", User: s.User, CSRF: g.csrfToken(r, id)})
}

// logout revokes the session server-side, so a copy of the cookie stops working too, and
// closes the WebSockets it opened (a terminal open in another tab ends with it).
func (g *Gateway) logout(w http.ResponseWriter, r *http.Request) {
	if s, id, ok := g.currentSession(r); ok {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if r.ParseForm() != nil || !g.checkCSRF(w, r, id) {
			return
		}
		if err := g.cfg.Revocations.Revoke(s.ID, s.Expires, g.cfg.Clock.Now()); err != nil {
			g.cfg.Logger.Error("revoke session", "err", err)
			render(w, http.StatusInternalServerError, "error.html", pageData{Title: "Error", Message: "Could not sign out; please try again."})
			return
		}
		closed := g.closeSessionSockets(s.ID)
		g.cfg.Logger.Info("signed out", "user", s.User, "websockets_closed", closed)
	}
	g.clearCookie(w)
	http.Redirect(w, r, "/_codehub/login?signed_out=1", http.StatusSeeOther)
}

// startAgain is the "Try again" button of a failed start.
func (g *Gateway) startAgain(w http.ResponseWriter, r *http.Request) {
	id, ok := g.formIdentity(w, r)
	if !ok {
		return
	}
	ref, err := formRef(r, id.User)
	if err == nil {
		g.startWorkspace(r.Context(), id, ref, "try again")
	}
	http.Redirect(w, r, safeNext(r.PostForm.Get("next")), http.StatusSeeOther)
}

type workspaceJSON struct {
	Name string `json:"name"`
	User string `json:"user"`
	// Named is the workspace's name among its owner's ("" = her default workspace).
	Named        string        `json:"workspace,omitempty"`
	State        backend.State `json:"state"`
	Message      string        `json:"message,omitempty"`
	LastActivity *time.Time    `json:"lastActivity,omitempty"`
	// The backend's idle timeout (seconds; 0 = none) and when it stops the workspace.
	IdleTimeout float64    `json:"idleTimeoutSeconds,omitempty"`
	StopsAt     *time.Time `json:"stopsAt,omitempty"`
	StopReason  string     `json:"stopReason,omitempty"`
	// Profile the workspace runs with; Created when it was first created; Notice says when
	// a start replaced the recorded profile (or how the last run ended).
	Profile string     `json:"profile,omitempty"`
	Created *time.Time `json:"created,omitempty"`
	Notice  string     `json:"notice,omitempty"`
}

// workspaceStatus reports the signed-in user's own workspace.
func (g *Gateway) workspaceStatus(w http.ResponseWriter, r *http.Request) {
	id, ok := g.apiIdentity(w, r)
	if !ok {
		return
	}
	g.writeWorkspace(w, r, backend.Default(id.User))
}

func (g *Gateway) writeWorkspace(w http.ResponseWriter, r *http.Request, ref backend.Ref) {
	ws, err := g.cfg.Backend.Get(r.Context(), ref)
	if errors.Is(err, backend.ErrNotFound) {
		writeJSON(w, http.StatusOK, workspaceJSON{Name: ref.FullName(), User: ref.User, Named: ref.Name, State: backend.StatePending})
		return
	}
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "backend unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, g.workspaceJSON(ws))
}

// workspaceJSON reports the backend's one stored activity value (not a replica's own view).
func (g *Gateway) workspaceJSON(ws backend.Workspace) workspaceJSON {
	out := workspaceJSON{Name: ws.Name, User: ws.User, Named: ws.Named, State: ws.State, Message: ws.Message,
		IdleTimeout: ws.IdleTimeout.Seconds(), StopReason: ws.StopReason, Profile: ws.Profile, Notice: ws.Notice}
	if t := ws.Created; !t.IsZero() {
		out.Created = &t
	}
	if t := ws.LastActivity; !t.IsZero() {
		out.LastActivity = &t
	}
	if t := ws.StopsAt; !t.IsZero() {
		out.StopsAt = &t
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
