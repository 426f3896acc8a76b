package gateway

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/codehub-dev/codehub/internal/backend"
)

// What a workspace sends and receives through the gateway is the user's own code running
// on a gateway origin, so the gateway keeps its own cookies and routes out of its reach.

// gatewayCookieNames are the cookies the gateway (and code-server's session) own: a
// workspace never sees them and can never set them.
func (g *Gateway) gatewayCookieNames() []string {
	return []string{CookieName(false), CookieName(true), "__Secure-codehub_session",
		"codehub_ws", "__Host-codehub_ws", "__Secure-codehub_ws", backend.CodeServerCookie}
}

// upstreamStrippedCookies are removed from every request to a workspace: the gateway's
// own, a client-sent code-server session (the gateway adds the real one), and the
// platform's credentials.
func (g *Gateway) upstreamStrippedCookies() []string {
	return append(g.gatewayCookieNames(), g.cfg.StripCookies...)
}

// filterWorkspaceResponse drops any Set-Cookie for a gateway cookie name (a workspace
// could otherwise replace the user's session with another one: session fixation), and
// runs files served by vscode-remote-resource in a sandbox: a page stored in the
// workspace (or on shared storage, written by someone else) must not run as the user on
// the gateway's origin, where it could call the API with the user's session.
func (g *Gateway) filterWorkspaceResponse(resp *http.Response) error {
	if credentialRefused(resp) {
		resp.Body.Close()
		return errCredentialRefused
	}
	dropGatewaySetCookies(resp.Header, g.gatewayCookieNames())
	if strings.Contains(resp.Request.URL.Path, "vscode-remote-resource") {
		resp.Header.Set("Content-Security-Policy", "sandbox")
		resp.Header.Set("X-Content-Type-Options", "nosniff")
	}
	return nil
}

// errCredentialRefused: code-server did not accept the route's credential (the workspace
// was restarted with a new one, or its Secret was replaced): the route is stale.
var errCredentialRefused = errors.New("workspace refused the gateway's credential")

// credentialRefused recognises code-server's answers to a request without a valid session:
// 401, or a redirect to its login page. A user must never see code-server's login.
func credentialRefused(resp *http.Response) bool {
	if resp.StatusCode == http.StatusUnauthorized {
		return true
	}
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		return false
	}
	loc, _, _ := strings.Cut(resp.Header.Get("Location"), "?")
	return loc == "login" || strings.HasSuffix(loc, "/login")
}

// dropGatewaySetCookies removes Set-Cookie lines naming one of names (case-insensitively:
// cookie names are case-sensitive, but a look-alike must not confuse a reader either).
func dropGatewaySetCookies(h http.Header, names []string) {
	lines := h["Set-Cookie"]
	if len(lines) == 0 {
		return
	}
	kept := lines[:0]
	for _, line := range lines {
		name, _, _ := strings.Cut(line, "=")
		name = strings.TrimSpace(name)
		drop := false
		for _, n := range names {
			if strings.EqualFold(name, n) {
				drop = true
				break
			}
		}
		if !drop {
			kept = append(kept, line)
		}
	}
	if len(kept) == 0 {
		h.Del("Set-Cookie")
		return
	}
	h["Set-Cookie"] = kept
}

// portPath recognises code-server's port-proxy routes, /proxy/<port>/… and
// /absproxy/<port>/…, and returns the port and the path the app would see.
func portPath(path string) (port int, rest string, ok bool) {
	var tail string
	switch {
	case strings.HasPrefix(path, "/proxy/"):
		tail = path[len("/proxy/"):]
	case strings.HasPrefix(path, "/absproxy/"):
		tail = path[len("/absproxy/"):]
	default:
		return 0, "", false
	}
	num, after, _ := strings.Cut(tail, "/")
	p, err := strconv.Atoi(num)
	if err != nil || p < 1 || p > 65535 || num != strconv.Itoa(p) {
		return 0, "", true // a malformed port is still a proxy route: refused, never passed on
	}
	if strings.HasPrefix(path, "/absproxy/") {
		return p, path, true
	}
	return p, "/" + after, true
}

// interceptsContent is a cheap first look for interceptContent: whether path may be one
// of its paths (the workspace's name it needs costs a hash to compute).
func interceptsContent(path string) bool {
	return path == "/logout" || path == "/login" || strings.HasPrefix(path, "/proxy/") || strings.HasPrefix(path, "/absproxy/")
}

// interceptContent handles the paths of a workspace-content origin (the main host without
// per-workspace origins, or a workspace host) that must not reach code-server: its port
// proxy (user apps never run on this origin) and its own login and logout pages (the
// gateway signs users in and out). It reports whether it answered.
func (g *Gateway) interceptContent(w http.ResponseWriter, r *http.Request, workspace string) bool {
	switch r.URL.Path {
	case "/logout":
		main := "" // this is the main host
		if g.origins != nil {
			main = g.mainOrigin(r)
		}
		http.Redirect(w, r, main+"/_codehub/logout", http.StatusSeeOther)
		return true
	case "/login":
		// Relative, as code-server's own redirects are: the browser resolves it against the
		// URL it asked for, so /w/<name>/login goes back to /w/<name>/, not to the default
		// workspace at / (r is the request with that prefix already taken off).
		w.Header().Set("Location", "./")
		w.WriteHeader(http.StatusSeeOther)
		return true
	}
	port, rest, ok := portPath(r.URL.Path)
	if !ok {
		return false
	}
	w.Header().Set("Cache-Control", "no-store")
	if port != 0 && isNavigation(r) {
		if u := g.portURL(r, workspace, port); u != "" {
			if r.URL.RawQuery != "" {
				rest += "?" + r.URL.RawQuery
			}
			http.Redirect(w, r, u+rest, http.StatusSeeOther)
			return true
		}
	}
	msg := "Apps running in your workspace open on their own origin, never on this one."
	if g.portURL(r, workspace, 8000) == "" {
		msg += " This gateway has no port-preview origins: start it with --workspace-origins <host> (wildcard DNS and TLS)."
	}
	if isNavigation(r) {
		render(w, http.StatusNotFound, "error.html", pageData{Title: "Port preview", Message: msg})
		return true
	}
	http.Error(w, msg, http.StatusNotFound)
	return true
}

// portURL is the origin of workspace's port, or "" when this gateway has none for r.
func (g *Gateway) portURL(r *http.Request, workspace string, port int) string {
	host := g.portHost(r, workspace, port)
	if host == "" {
		return ""
	}
	scheme := "http"
	if g.cfg.Secure || r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + host
}

// requestPort is the port part of r's Host ("" for the scheme's default).
func requestPort(r *http.Request) string {
	if u, err := url.Parse("//" + r.Host); err == nil {
		return u.Port()
	}
	return ""
}
