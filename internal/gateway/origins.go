package gateway

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/session"
)

// Per-workspace origins (optional): each workspace is served on its own host,
// <workspace>.<base host>, with a host-only cookie, so content running in one workspace
// (webviews, forwarded ports, extensions' pages) can never read the gateway's main-host
// pages or another workspace's state. The main host keeps sign-in and the API; it hands
// a signed-in user over to a workspace host with a single-use, 60-second token bound to
// that host.

const handoffTTL = 60 * time.Second

type originMode struct {
	base    string // main host, e.g. "vscode.example.com" (with port when not default)
	scheme  string
	used    sync.Map // handoff nonce → expiry: tokens are single-use
	owners  sync.Map // workspace name → owner user
	codecMu sync.Mutex
	codecs  map[string]*session.Codec
}

func (o *originMode) workspaceHost(name string) string { return name + "." + o.base }

// workspaceOf returns the workspace name a Host addresses, or "" for the main host;
// ok is false for hosts that are neither.
func (o *originMode) workspaceOf(host string) (string, bool) {
	host = strings.ToLower(host)
	if host == o.base {
		return "", true
	}
	name, found := strings.CutSuffix(host, "."+o.base)
	if !found || name == "" || strings.Contains(name, ".") {
		return "", false
	}
	return name, true
}

func (g *Gateway) wsCookieName() string {
	if g.cfg.Secure {
		return "__Host-codehub_ws"
	}
	return "codehub_ws"
}

func (o *originMode) codec(base *session.Codec, purpose, name string) *session.Codec {
	key := purpose + ":" + name
	o.codecMu.Lock()
	defer o.codecMu.Unlock()
	if c, ok := o.codecs[key]; ok {
		return c
	}
	c := base.WithName(key)
	o.codecs[key] = c
	return c
}

// serveMainHostInOriginMode sends page visits to the user's workspace host; the main
// host itself never serves workspace content in this mode.
func (g *Gateway) serveMainHostInOriginMode(w http.ResponseWriter, r *http.Request) {
	if !isNavigation(r) {
		http.Error(w, "workspaces are served on their own host", http.StatusNotFound)
		return
	}
	http.Redirect(w, r, "/_codehub/open?next="+url.QueryEscape(safeNext(r.URL.RequestURI())), http.StatusSeeOther)
}

// open (main host) issues a handoff to a workspace host: the caller's own workspace,
// or with ?workspace=NAME another user's for admins.
func (g *Gateway) open(w http.ResponseWriter, r *http.Request) {
	o := g.origins
	if o == nil {
		http.NotFound(w, r)
		return
	}
	id, err := g.identify(r)
	if err != nil {
		g.refuse(w, r, err)
		return
	}
	name, owner := identity.WorkspaceName(id.User), id.User
	if want := r.URL.Query().Get("workspace"); want != "" && want != name {
		if !id.Admin {
			render(w, http.StatusForbidden, "error.html", pageData{Title: "Forbidden", Message: "That workspace is not yours."})
			return
		}
		if owner = g.ownerOf(r.Context(), want); owner == "" {
			render(w, http.StatusNotFound, "error.html", pageData{Title: "Not found", Message: "No such workspace."})
			return
		}
		name = want
		g.cfg.Logger.Warn("admin opens another user's workspace", "admin", id.User, "owner", owner)
	}
	o.owners.Store(name, owner)
	now := g.cfg.Clock.Now()
	tok, err := o.codec(g.cfg.Codec, "handoff", name).Seal(session.Session{ID: session.NewID(), User: id.User, Admin: id.Admin, Issued: now, Expires: now.Add(handoffTTL)})
	if err != nil {
		http.Error(w, "could not hand over", http.StatusInternalServerError)
		return
	}
	next := safeNext(r.URL.Query().Get("next"))
	target := o.scheme + "://" + o.workspaceHost(name) + "/_codehub/handoff?t=" + url.QueryEscape(tok) + "&next=" + url.QueryEscape(next)
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func (g *Gateway) ownerOf(ctx context.Context, name string) string {
	if v, ok := g.origins.owners.Load(name); ok {
		return v.(string)
	}
	list, err := g.cfg.Backend.List(ctx)
	if err != nil {
		return ""
	}
	for _, ws := range list {
		if ws.Name == name {
			g.origins.owners.Store(name, ws.User)
			return ws.User
		}
	}
	return ""
}

// serveWorkspaceHost serves one workspace host: the handoff, sign-out, health, and the
// proxy for its owner (or an admin) only.
func (g *Gateway) serveWorkspaceHost(w http.ResponseWriter, r *http.Request, name string) {
	o := g.origins
	switch r.URL.Path {
	case "/_codehub/handoff":
		g.handoff(w, r, name)
		return
	case "/_codehub/healthz":
		_, _ = w.Write([]byte("ok\n"))
		return
	case "/_codehub/logout":
		if r.Method == http.MethodPost {
			if s, ok := g.wsSession(r, name); ok {
				_ = g.cfg.Revocations.Revoke(s.ID, s.Expires, g.cfg.Clock.Now())
			}
			http.SetCookie(w, &http.Cookie{Name: g.wsCookieName(), Path: "/", MaxAge: -1, HttpOnly: true, Secure: g.cfg.Secure, SameSite: http.SameSiteLaxMode})
			http.Redirect(w, r, o.scheme+"://"+o.base+"/_codehub/logout", http.StatusSeeOther)
			return
		}
	}
	if strings.HasPrefix(r.URL.Path, Prefix) {
		http.NotFound(w, r)
		return
	}
	s, ok := g.wsSession(r, name)
	if !ok {
		if isNavigation(r) {
			next := safeNext(r.URL.RequestURI())
			http.Redirect(w, r, o.scheme+"://"+o.base+"/_codehub/open?workspace="+url.QueryEscape(name)+"&next="+url.QueryEscape(next), http.StatusSeeOther)
			return
		}
		http.Error(w, "not signed in", http.StatusUnauthorized)
		return
	}
	owner := g.ownerOf(r.Context(), name)
	if owner == "" && identity.WorkspaceName(s.User) == name {
		owner = s.User
	}
	if owner == "" || (owner != s.User && !s.Admin) {
		http.Error(w, "not your workspace", http.StatusForbidden)
		return
	}
	id := identity.Identity{User: owner}
	if owner == s.User {
		id = g.withAdmin(identity.Identity{User: s.User, Admin: s.Admin})
	}
	g.proxyWorkspace(w, r, id)
}

// wsSession opens the workspace host's own cookie.
func (g *Gateway) wsSession(r *http.Request, name string) (session.Session, bool) {
	v := cookieValue(r, g.wsCookieName())
	if v == "" {
		return session.Session{}, false
	}
	s, err := g.origins.codec(g.cfg.Codec, "ws", name).Open(v, g.cfg.Clock.Now())
	if err != nil || g.cfg.Revocations.Revoked(s.ID) {
		return session.Session{}, false
	}
	return s, true
}

// handoff (workspace host) turns a single-use token from the main host into this host's
// own cookie.
func (g *Gateway) handoff(w http.ResponseWriter, r *http.Request, name string) {
	o := g.origins
	now := g.cfg.Clock.Now()
	t, err := o.codec(g.cfg.Codec, "handoff", name).Open(r.URL.Query().Get("t"), now)
	if err != nil {
		render(w, http.StatusForbidden, "error.html", pageData{Title: "Link expired", Message: "This sign-in link is invalid or expired. Open the workspace again from the main page."})
		return
	}
	if _, replay := o.used.LoadOrStore(t.ID, t.Expires); replay {
		render(w, http.StatusForbidden, "error.html", pageData{Title: "Link used", Message: "This sign-in link was already used."})
		return
	}
	o.used.Range(func(k, v any) bool {
		if !v.(time.Time).After(now) {
			o.used.Delete(k)
		}
		return true
	})
	s := session.Session{ID: session.NewID(), User: t.User, Admin: t.Admin, Issued: now, Expires: now.Add(g.cfg.SessionTTL)}
	v, err := o.codec(g.cfg.Codec, "ws", name).Seal(s)
	if err != nil {
		http.Error(w, "could not create a session", http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: g.wsCookieName(), Value: v, Path: "/", Expires: s.Expires,
		HttpOnly: true, Secure: g.cfg.Secure, SameSite: http.SameSiteLaxMode})
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
}
