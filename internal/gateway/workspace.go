package gateway

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/codehub-dev/codehub/internal/auth"
	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/identity"
)

// serveWorkspace proxies a request to the signed-in user's own workspace. The workspace's
// owner comes from the session alone: no path, query or header can name another user's
// workspace; a path under /w/ names one of her own named workspaces (named.go).
func (g *Gateway) serveWorkspace(w http.ResponseWriter, r *http.Request) {
	id, err := g.identify(r)
	if err != nil {
		if isVSCodeSocket(r) && !errors.Is(err, auth.ErrUnavailable) {
			g.tombstone(w, r, reasonSignedOut) // an open tab of a user who signed out
			return
		}
		g.refuse(w, r, err)
		return
	}
	if strings.HasPrefix(r.URL.Path, namedPrefix) {
		g.serveNamed(w, r, id)
		return
	}
	if interceptsContent(r.URL.Path) && g.interceptContent(w, r, identity.WorkspaceName(id.User)) {
		return
	}
	g.proxyWorkspace(w, r, id, backend.Default(id.User), "")
}

// proxyWorkspace proxies to ref, a workspace of id.User, waking it on a page visit. prefix
// is the path it is served under on this host ("" = at /), taken off before code-server.
func (g *Gateway) proxyWorkspace(w http.ResponseWriter, r *http.Request, id identity.Identity, ref backend.Ref, prefix string) {
	upgrade := r.Header.Get("Upgrade") != ""
	if upgrade && !sameOrigin(r, g.cfg.Secure) {
		// Cross-site WebSocket hijacking: a page elsewhere cannot use the cookie.
		http.Error(w, "cross-origin WebSocket refused", http.StatusForbidden)
		return
	}
	if rt, ok := g.routes.get(ref); ok {
		g.proxyTo(w, stripped(r, prefix), rt, upgrade)
		return
	}
	ws, err := g.cfg.Backend.Get(r.Context(), ref)
	if err != nil && !errors.Is(err, backend.ErrNotFound) {
		g.cfg.Logger.Error("backend lookup", "workspace", ref.String(), "err", err)
		g.unavailable(w, r, "The workspace service is unavailable; please try again shortly.")
		return
	}
	if err == nil && ws.State == backend.StateRunning && ws.Endpoint != nil {
		rt := g.routeFor(ref, ws)
		g.proxyTo(w, stripped(r, prefix), rt, upgrade)
		return
	}
	if errors.Is(err, backend.ErrNotFound) && ref.Name != "" {
		// A visit never creates a named workspace: its owner does, on purpose (home page,
		// API), within her limit.
		g.notFound(w, r, "You have no workspace named "+ref.Name+". Create it on the home page (/_codehub/).")
		return
	}
	if !isNavigation(r) {
		// XHR and WebSocket retries from an open tab never wake a workspace, so a
		// forgotten tab cannot keep a stopped workspace alive. The tab's workbench is
		// told to reload (tombstone.go) instead of retrying forever.
		if upgrade && isVSCodeSocket(r) {
			g.tombstone(w, r, reasonStopped)
			return
		}
		w.Header().Set("Retry-After", "5")
		http.Error(w, "workspace not running", http.StatusServiceUnavailable)
		return
	}
	g.wake(w, r, id, ref, ws, err)
}

// routeFor returns the route for the running workspace ws (ref), creating it once.
func (g *Gateway) routeFor(ref backend.Ref, ws backend.Workspace) *route {
	return g.routes.put(ref, ws, func() *route { return g.newRoute(ref, ws) })
}

func (g *Gateway) proxyTo(w http.ResponseWriter, r *http.Request, rt *route, upgrade bool) {
	g.requestActivity(rt, r, false)
	if !upgrade && g.cfg.Assets != nil && g.cfg.Assets.serve(w, r) {
		return
	}
	if upgrade {
		w, r = g.sockets.trackRoute(w, r, g.socketOwner(r, rt.ref.User), rt, g.newFollower(rt))
	}
	start := time.Now()
	rt.proxy.ServeHTTP(w, r)
	if !upgrade {
		g.cfg.Metrics.ProxyLatency.Observe(time.Since(start).Seconds())
	}
}

// wake starts the workspace for a real page visit and shows the progress page, which
// reloads itself until the workspace answers and the same URL is proxied.
func (g *Gateway) wake(w http.ResponseWriter, r *http.Request, id identity.Identity, ref backend.Ref, ws backend.Workspace, getErr error) {
	next := safeNext(r.URL.RequestURI())
	if getErr == nil && ws.State == backend.StateFailed {
		render(w, http.StatusServiceUnavailable, "progress.html", pageData{Workspace: ref.Name, Title: "Workspace failed", Failed: true, Message: ws.Message, Next: next, User: id.User, CSRF: g.csrfToken(r, id),
			Steps: stepViews(ws.Steps), Notice: ws.Notice})
		return
	}
	if errors.Is(getErr, backend.ErrNotFound) && ref.Name == "" && g.firstVisitChoice(w, r, id, next) {
		return
	}
	started, err := g.cfg.Backend.Start(r.Context(), id, ref.Name)
	if errors.Is(getErr, backend.ErrNotFound) || ws.State == backend.StateStopped || ws.State == backend.StatePending {
		// The visit that starts it (the progress page's reloads ask again: not audited).
		g.record(id.User, "workspace.start", ref, "page visit", err)
	}
	msg := "Starting VS Code…"
	if errors.Is(err, backend.ErrRefused) {
		g.cfg.Logger.Warn("workspace refused", "workspace", ref.String(), "err", err)
		render(w, http.StatusForbidden, "progress.html", pageData{Workspace: ref.Name, Title: "Workspace refused", Failed: true, Message: err.Error(), Next: next, User: id.User, CSRF: g.csrfToken(r, id)})
		return
	}
	if err != nil {
		g.cfg.Logger.Warn("start workspace", "workspace", ref.String(), "err", err)
		msg = "Waiting for the workspace: " + err.Error()
	} else if started.Message != "" {
		msg = capitalize(started.Message) + "…"
	}
	if err == nil && started.State == backend.StateFailed {
		render(w, http.StatusServiceUnavailable, "progress.html", pageData{Workspace: ref.Name, Title: "Workspace failed", Failed: true, Message: started.Message, Next: next, User: id.User, CSRF: g.csrfToken(r, id),
			Steps: stepViews(started.Steps), Notice: started.Notice})
		return
	}
	w.Header().Set("Retry-After", "1")
	render(w, http.StatusServiceUnavailable, "progress.html", pageData{Workspace: ref.Name, Title: "Starting", Refresh: 1, Message: msg, Next: next, User: id.User,
		Steps: stepViews(started.Steps), Notice: started.Notice})
}

func (g *Gateway) unavailable(w http.ResponseWriter, r *http.Request, msg string) {
	retryLater(w, r, 5, "Unavailable", msg, msg)
}

// retryLater answers 503 with Retry-After: a page that reloads itself after that many
// seconds for a page visit, the plain text for a script.
func retryLater(w http.ResponseWriter, r *http.Request, seconds int, title, page, plain string) {
	w.Header().Set("Retry-After", strconv.Itoa(seconds))
	if isNavigation(r) {
		render(w, http.StatusServiceUnavailable, "error.html", pageData{Title: title, Refresh: seconds, Message: page})
		return
	}
	http.Error(w, plain, http.StatusServiceUnavailable)
}

// isNavigation reports whether a request is a real page visit (a user opening or
// reloading a page), as opposed to a script's XHR or a WebSocket reconnect.
func isNavigation(r *http.Request) bool {
	if r.Method != http.MethodGet || r.Header.Get("Upgrade") != "" {
		return false
	}
	if mode := r.Header.Get("Sec-Fetch-Mode"); mode != "" {
		dest := r.Header.Get("Sec-Fetch-Dest")
		return mode == "navigate" && (dest == "" || dest == "document")
	}
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// sameOrigin reports whether a request's Origin (if any) is the host it was sent to.
// Browsers always send Origin on WebSocket handshakes; non-browser clients may omit it.
// When the gateway is reached over TLS an http:// origin is a downgrade and refused;
// over plain HTTP an https:// origin is a TLS-terminating proxy in front and allowed.
func sameOrigin(r *http.Request, secure bool) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false // includes "null"
	}
	switch {
	case r.TLS != nil || secure:
		if u.Scheme != "https" {
			return false
		}
	case u.Scheme != "http" && u.Scheme != "https":
		return false
	}
	return u.Host == strings.ToLower(r.Host) || strings.EqualFold(u.Host, r.Host)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
