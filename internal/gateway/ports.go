package gateway

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"

	"github.com/codehub-dev/codehub/internal/backend"
)

// Port previews: an app the user runs in her workspace is served on its own origin,
// p<port>--<workspace>.<base>, to its owner only. The gateway reaches the port through the
// backend: directly when it can check who accepted the connection (local: the host's
// loopback, the workspace's own unix user), else through code-server's /proxy/<port>/ in
// the workspace (Kubernetes: the pod's own loopback), with the workspace's credential.

// portProxies are a route's proxies to its workspace's ports, made on first use.
type portProxies struct {
	mu sync.Mutex
	by map[int]*httputil.ReverseProxy
}

func (g *Gateway) servePortHost(w http.ResponseWriter, r *http.Request, label string) {
	workspace, port, _ := parsePortLabel(label)
	s, ok := g.serveContentHost(w, r, label, "port="+strconv.Itoa(port)+"&workspace="+workspace)
	if !ok {
		return
	}
	// Owner only, admins included: an app is the user's own code, and opening it as
	// someone else would run it with their browser's trust.
	ref, ok := g.contentRef(r.Context(), workspace, s.User)
	if !ok || ref.User != s.User {
		http.Error(w, "not your workspace", http.StatusForbidden)
		return
	}
	if r.Header.Get("Upgrade") != "" && !sameOrigin(r, g.cfg.Secure) {
		http.Error(w, "cross-origin WebSocket refused", http.StatusForbidden)
		return
	}
	rt, ok := g.runningRoute(r.Context(), ref)
	if !ok {
		if isNavigation(r) {
			render(w, http.StatusServiceUnavailable, "error.html", pageData{Title: "Workspace not running",
				Message: "This app runs in your workspace, which is not running. Open the workspace first."})
			return
		}
		http.Error(w, "workspace not running", http.StatusServiceUnavailable)
		return
	}
	g.requestActivity(rt, r, true)
	proxy := g.portProxy(rt, port)
	if r.Header.Get("Upgrade") != "" {
		w, r = g.sockets.track(w, r, g.socketOwner(r, rt.ref.User))
	}
	proxy.ServeHTTP(w, r)
}

// runningRoute is the route of a running workspace, without waking it.
func (g *Gateway) runningRoute(ctx context.Context, ref backend.Ref) (*route, bool) {
	if rt, ok := g.routes.get(ref); ok {
		return rt, true
	}
	ws, err := g.cfg.Backend.Get(ctx, ref)
	if err != nil || ws.State != backend.StateRunning || ws.Endpoint == nil {
		return nil, false
	}
	return g.routeFor(ref, ws), true
}

func (g *Gateway) portProxy(rt *route, port int) *httputil.ReverseProxy {
	rt.ports.mu.Lock()
	defer rt.ports.mu.Unlock()
	if p, ok := rt.ports.by[port]; ok {
		return p
	}
	if rt.ports.by == nil {
		rt.ports.by = map[int]*httputil.ReverseProxy{}
	}
	p := &httputil.ReverseProxy{
		ModifyResponse: func(resp *http.Response) error {
			dropGatewaySetCookies(resp.Header, g.gatewayCookieNames())
			return takeOverUpgrade(resp)
		},
		BufferPool:   copyBuffers,
		ErrorHandler: g.portError(port),
	}
	if dialer, ok := g.cfg.Backend.(backend.PortDialer); ok {
		target := &url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
		ref := rt.ref
		p.Transport = &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return dialer.DialPort(ctx, ref, port)
			},
			MaxIdleConnsPerHost: 16,
			DisableCompression:  true,
		}
		p.Rewrite = func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			g.prepareUpstream(pr, "")
		}
	} else {
		prefix := "/proxy/" + strconv.Itoa(port)
		p.Transport = rt.transport
		p.Rewrite = func(pr *httputil.ProxyRequest) {
			rt.proxy.Rewrite(pr) // the workspace's endpoint and credential
			pr.Out.URL.Path = prefix + pr.In.URL.Path
			pr.Out.URL.RawPath = ""
		}
	}
	rt.ports.by[port] = p
	return p
}

func (g *Gateway) portError(port int) func(http.ResponseWriter, *http.Request, error) {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		if errors.Is(err, context.Canceled) || errors.Is(err, errTakenOver) {
			return
		}
		msg := "Nothing of yours answers on port " + strconv.Itoa(port) + " in your workspace."
		g.cfg.Logger.Info("port preview refused", "port", port, "err", err)
		if isNavigation(r) {
			render(w, http.StatusBadGateway, "error.html", pageData{Title: "Port " + strconv.Itoa(port), Refresh: 5, Message: msg + " This page retries by itself."})
			return
		}
		http.Error(w, msg, http.StatusBadGateway)
	}
}

// closePorts closes the idle connections of a route's port proxies.
func (rt *route) closePorts() {
	rt.ports.mu.Lock()
	defer rt.ports.mu.Unlock()
	for _, p := range rt.ports.by {
		if t, ok := p.Transport.(*http.Transport); ok && t != rt.transport {
			t.CloseIdleConnections()
		}
	}
}
