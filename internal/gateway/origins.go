package gateway

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/session"
)

// Content origins: hosts other than the main one that serve workspace content, each with
// its own host-only cookie, so what runs there can never read the gateway's main-host
// pages, its API or another workspace's state.
//   - workspace hosts <workspace>.<base> (optional, --workspace-origins): the editor;
//   - port hosts p<port>--<workspace>.<base> (or .localhost without --workspace-origins):
//     an app the user runs in the workspace (code-server's /proxy/<port>/ never runs on a
//     gateway origin).
// The main host keeps sign-in and the API; it hands a signed-in user over to a content
// host with a single-use, 60-second token bound to that host.

const handoffTTL = 60 * time.Second

// originMode is set when each workspace is served on its own host.
type originMode struct {
	base   string // main host, e.g. "vscode.example.com" (with port when not default)
	scheme string
}

// handoffs issues and redeems the tokens and host cookies of content hosts.
type handoffs struct {
	used    sync.Map // handoff nonce → expiry: tokens are single-use
	owners  sync.Map // workspace full name → backend.Ref (deterministic: names hash the ref)
	codecMu sync.Mutex
	codecs  map[string]*session.Codec
}

// hostLabel says what a request's Host addresses: "" for the main host, else the label
// of a content host (a workspace name or a port label); ok is false for other hosts.
func (g *Gateway) hostLabel(host string) (string, bool) {
	host = strings.ToLower(host)
	if g.origins == nil {
		// One host; port hosts are *.localhost, which browsers resolve to loopback.
		name, _, _ := strings.Cut(host, ":")
		if label, found := strings.CutSuffix(name, ".localhost"); found {
			if _, _, isPort := parsePortLabel(label); isPort {
				return label, true
			}
		}
		return "", true
	}
	if host == g.origins.base {
		return "", true
	}
	label, found := strings.CutSuffix(host, "."+g.origins.base)
	if !found || label == "" || strings.Contains(label, ".") {
		return "", false
	}
	return label, true
}

// portLabel is the host label of a workspace's port. Workspace names never contain
// "--" (identity.WorkspaceName folds runs of separators), so the label is unambiguous.
func portLabel(workspace string, port int) string {
	return "p" + strconv.Itoa(port) + "--" + workspace
}

func parsePortLabel(label string) (workspace string, port int, ok bool) {
	head, ws, found := strings.Cut(label, "--")
	if !found || len(head) < 2 || head[0] != 'p' || ws == "" {
		return "", 0, false
	}
	p, err := strconv.Atoi(head[1:])
	if err != nil || p < 1 || p > 65535 || head[1:] != strconv.Itoa(p) {
		return "", 0, false
	}
	return ws, p, true
}

// portHost is the host serving workspace's port for a visitor of r, or "" when this
// gateway has none (one host over TLS: a certificate cannot cover *.localhost).
func (g *Gateway) portHost(r *http.Request, workspace string, port int) string {
	label := portLabel(workspace, port)
	switch {
	case g.origins != nil:
		return label + "." + g.origins.base
	case g.cfg.Secure || r.TLS != nil:
		return ""
	}
	if p := requestPort(r); p != "" {
		return label + ".localhost:" + p
	}
	return label + ".localhost"
}

func (g *Gateway) wsCookieName() string {
	if g.cfg.Secure {
		return "__Host-codehub_ws"
	}
	return "codehub_ws"
}

func (h *handoffs) codec(base *session.Codec, purpose, label string) *session.Codec {
	key := purpose + ":" + label
	h.codecMu.Lock()
	defer h.codecMu.Unlock()
	if c, ok := h.codecs[key]; ok {
		return c
	}
	c := base.WithName(key)
	h.codecs[key] = c
	return c
}

// serveMainHostInOriginMode sends page visits to the user's workspace host; the main
// host itself never serves workspace content in this mode.
func (g *Gateway) serveMainHostInOriginMode(w http.ResponseWriter, r *http.Request) {
	if !isNavigation(r) {
		http.Error(w, "workspaces are served on their own host", http.StatusNotFound)
		return
	}
	open := "/_codehub/open?"
	next := r.URL.RequestURI()
	if name, rest, _, ok, err := parseNamedPath(r.URL.Path); ok {
		// A one-host link to a named workspace (/w/<name>/…) opens its own host.
		if err != nil {
			g.notFound(w, r, "No such workspace: "+err.Error()+".")
			return
		}
		open += "w=" + url.QueryEscape(name) + "&"
		if next = rest; next == "" {
			next = "/"
		}
		if r.URL.RawQuery != "" {
			next += "?" + r.URL.RawQuery
		}
	}
	http.Redirect(w, r, open+"next="+url.QueryEscape(safeNext(next)), http.StatusSeeOther)
}

// open (main host) issues a handoff to a content host: the caller's own default workspace,
// with ?w=NAME her own named workspace NAME, with ?workspace=FULLNAME the workspace of that
// full name (content hosts' sign-in links; another user's for admins, in origin mode
// only), or with ?port=P a port of one of the caller's own workspaces.
func (g *Gateway) open(w http.ResponseWriter, r *http.Request) {
	id, err := g.identify(r)
	if err != nil {
		g.refuse(w, r, err)
		return
	}
	q := r.URL.Query()
	ref := backend.Default(id.User)
	if n := q.Get("w"); n != "" {
		if err := identity.CheckWorkspaceName(n); err != nil {
			render(w, http.StatusNotFound, "error.html", pageData{Title: "Not found", Message: "No such workspace: " + err.Error() + "."})
			return
		}
		ref.Name = n
	}
	if want := q.Get("workspace"); want != "" && want != ref.FullName() {
		other, ok := g.ownerOf(r.Context(), want)
		switch {
		case (!ok || other.User != id.User) && !id.Admin:
			// The same answer whether it exists or not: nothing to learn about others.
			render(w, http.StatusForbidden, "error.html", pageData{Title: "Forbidden", Message: "That workspace is not yours."})
			return
		case !ok:
			render(w, http.StatusNotFound, "error.html", pageData{Title: "Not found", Message: "No such workspace."})
			return
		}
		ref = other
	}
	name := ref.FullName()
	next := safeNext(q.Get("next"))
	if p := q.Get("port"); p != "" {
		port, err := strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 || ref.User != id.User {
			render(w, http.StatusForbidden, "error.html", pageData{Title: "Forbidden", Message: "You can open the ports of your own workspaces only."})
			return
		}
		host := g.portHost(r, name, port)
		if host == "" {
			render(w, http.StatusNotFound, "error.html", pageData{Title: "Port preview", Message: "This gateway has no port-preview origins."})
			return
		}
		g.handOver(w, r, id, portLabel(name, port), ref, host, next)
		return
	}
	if g.origins == nil {
		if ref.User == id.User && ref.Name != "" {
			http.Redirect(w, r, g.namedURL(ref), http.StatusSeeOther) // one host: its path
			return
		}
		http.NotFound(w, r)
		return
	}
	if ref.User != id.User {
		if !id.Admin {
			render(w, http.StatusForbidden, "error.html", pageData{Title: "Forbidden", Message: "That workspace is not yours."})
			return
		}
		g.record(id.User, "workspace.open-as-admin", ref, "", nil)
	}
	g.handOver(w, r, id, name, ref, name+"."+g.origins.base, next)
}

// handOver redirects to host's handoff with a token for id sealed for label, a content
// host of the workspace ref.
func (g *Gateway) handOver(w http.ResponseWriter, r *http.Request, id identity.Identity, label string, ref backend.Ref, host, next string) {
	g.handoffs.owners.Store(ref.FullName(), ref)
	tok, err := g.handoffs.codec(g.cfg.Codec, "handoff", label).Seal(session.For(id, g.cfg.Clock.Now(), handoffTTL))
	if err != nil {
		http.Error(w, "could not hand over", http.StatusInternalServerError)
		return
	}
	scheme := "http"
	if g.cfg.Secure || r.TLS != nil {
		scheme = "https"
	}
	target := scheme + "://" + host + "/_codehub/handoff?t=" + url.QueryEscape(tok) + "&next=" + url.QueryEscape(next)
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// ownerOf finds the workspace a content host's label names (a full name), if it exists.
func (g *Gateway) ownerOf(ctx context.Context, name string) (backend.Ref, bool) {
	if v, ok := g.handoffs.owners.Load(name); ok {
		return v.(backend.Ref), true
	}
	list, err := g.cfg.Backend.List(ctx)
	if err != nil {
		return backend.Ref{}, false
	}
	for _, ws := range list {
		if ws.Name == name {
			g.handoffs.owners.Store(name, ws.Ref())
			return ws.Ref(), true
		}
	}
	return backend.Ref{}, false
}

// contentRef is the workspace of a content host's label for its visitor: the one that
// exists under that name, or her own default workspace before its first start.
func (g *Gateway) contentRef(ctx context.Context, name, visitor string) (backend.Ref, bool) {
	if ref, ok := g.ownerOf(ctx, name); ok {
		return ref, true
	}
	if identity.WorkspaceName(visitor) == name {
		return backend.Default(visitor), true
	}
	return backend.Ref{}, false
}

// serveContentHost serves the gateway's own paths of a content host (handoff, health,
// sign-out) and returns the session of its visitor, or answers and returns false.
func (g *Gateway) serveContentHost(w http.ResponseWriter, r *http.Request, label, signIn string) (session.Session, bool) {
	switch r.URL.Path {
	case "/_codehub/handoff":
		g.handoff(w, r, label)
		return session.Session{}, false
	case "/_codehub/healthz":
		_, _ = w.Write([]byte("ok\n"))
		return session.Session{}, false
	case "/_codehub/logout":
		if r.Method == http.MethodPost {
			if s, ok := g.wsSession(r, label); ok {
				_ = g.cfg.Revocations.Revoke(s.ID, s.Expires, g.cfg.Clock.Now())
				g.closeSessionSockets(s.ID)
			}
			http.SetCookie(w, &http.Cookie{Name: g.wsCookieName(), Path: "/", MaxAge: -1, HttpOnly: true, Secure: g.cfg.Secure, SameSite: http.SameSiteLaxMode})
			http.Redirect(w, r, g.mainOrigin(r)+"/_codehub/logout", http.StatusSeeOther)
			return session.Session{}, false
		}
	}
	if strings.HasPrefix(r.URL.Path, Prefix) {
		http.NotFound(w, r)
		return session.Session{}, false
	}
	s, ok := g.wsSession(r, label)
	if !ok {
		if isVSCodeSocket(r) {
			g.tombstone(w, r, reasonSignedOut)
			return session.Session{}, false
		}
		if isNavigation(r) {
			next := safeNext(r.URL.RequestURI())
			http.Redirect(w, r, g.mainOrigin(r)+"/_codehub/open?"+signIn+"&next="+url.QueryEscape(next), http.StatusSeeOther)
			return session.Session{}, false
		}
		http.Error(w, "not signed in", http.StatusUnauthorized)
		return session.Session{}, false
	}
	return s, true
}

// serveWorkspaceHost serves one workspace host: the proxy for its owner (or an admin) only.
func (g *Gateway) serveWorkspaceHost(w http.ResponseWriter, r *http.Request, name string) {
	s, ok := g.serveContentHost(w, r, name, "workspace="+url.QueryEscape(name))
	if !ok {
		return
	}
	ref, ok := g.contentRef(r.Context(), name, s.User)
	if !ok || (ref.User != s.User && !s.Admin) {
		http.Error(w, "not your workspace", http.StatusForbidden)
		return
	}
	if g.interceptContent(w, r, name) {
		return
	}
	id := identity.Identity{User: ref.User}
	if ref.User == s.User {
		id = g.withAdmin(s.Identity())
	}
	g.proxyWorkspace(w, r, id, ref, "")
}

// mainOrigin is the main host's origin for a visitor of a content host. Without
// per-workspace origins the gateway does not know it for sure: the page the visitor came
// from when it was a loopback main host, else 127.0.0.1 on the same port.
func (g *Gateway) mainOrigin(r *http.Request) string {
	if g.origins != nil {
		return g.origins.scheme + "://" + g.origins.base
	}
	scheme := "http"
	if r.TLS != nil || g.cfg.Secure {
		scheme = "https"
	}
	if ref, err := url.Parse(r.Referer()); err == nil && ref.Host != "" {
		if label, ok := g.hostLabel(ref.Host); ok && label == "" && isLoopbackName(ref.Hostname()) {
			return scheme + "://" + ref.Host
		}
	}
	host := "127.0.0.1"
	if p := requestPort(r); p != "" {
		host += ":" + p
	}
	return scheme + "://" + host
}

func isLoopbackName(h string) bool {
	return h == "localhost" || h == "127.0.0.1" || h == "::1"
}

// wsSession opens a content host's own cookie.
func (g *Gateway) wsSession(r *http.Request, label string) (session.Session, bool) {
	v := cookieValue(r, g.wsCookieName())
	if v == "" {
		return session.Session{}, false
	}
	s, err := g.handoffs.codec(g.cfg.Codec, "ws", label).Open(v, g.cfg.Clock.Now())
	if err != nil || g.cfg.Revocations.Revoked(s.ID) {
		return session.Session{}, false
	}
	id, ok := g.accountIdentity(s.Identity(), s.Issued)
	if !ok {
		return session.Session{}, false
	}
	s.Admin = id.Admin // a local account's rights as the users file says now
	return s, true
}

// handoff (content host) turns a single-use token from the main host into this host's
// own cookie, carrying the whole identity (unix ids included).
func (g *Gateway) handoff(w http.ResponseWriter, r *http.Request, label string) {
	h := &g.handoffs
	now := g.cfg.Clock.Now()
	t, err := h.codec(g.cfg.Codec, "handoff", label).Open(r.URL.Query().Get("t"), now)
	if err != nil {
		render(w, http.StatusForbidden, "error.html", pageData{Title: "Link expired", Message: "This sign-in link is invalid or expired. Open the workspace again from the main page."})
		return
	}
	if _, replay := h.used.LoadOrStore(t.ID, t.Expires); replay {
		render(w, http.StatusForbidden, "error.html", pageData{Title: "Link used", Message: "This sign-in link was already used."})
		return
	}
	h.used.Range(func(k, v any) bool {
		if !v.(time.Time).After(now) {
			h.used.Delete(k)
		}
		return true
	})
	s := session.For(t.Identity(), now, g.cfg.SessionTTL)
	v, err := h.codec(g.cfg.Codec, "ws", label).Seal(s)
	if err != nil {
		http.Error(w, "could not create a session", http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: g.wsCookieName(), Value: v, Path: "/", Expires: s.Expires,
		HttpOnly: true, Secure: g.cfg.Secure, SameSite: http.SameSiteLaxMode})
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
}
