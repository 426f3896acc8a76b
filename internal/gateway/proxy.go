package gateway

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/codehub-dev/codehub/internal/auth"
	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/idle"
)

// route is a running workspace as the proxy sees it: where it listens, the credential it
// requires, and when a person last used it (activity.go; flushed to the backend, which
// stores it, by flush.go). One per user; replaced when the workspace restarts
// (a new endpoint or a new credential).
type route struct {
	user       string
	endpoint   *url.URL
	credential string
	cookie     string // the credential as a Cookie header line ("" = none)
	proxy      *httputil.ReverseProxy
	transport  *http.Transport
	activity   idle.Activity
	flushed    time.Time // the activity last handed to the backend
	ports      portProxies
}

// closeIdle closes the idle upstream connections of the route and its port proxies.
func (rt *route) closeIdle() {
	rt.transport.CloseIdleConnections()
	rt.closePorts()
}

// same reports whether ws is what the route proxies to.
func (rt *route) same(ws backend.Workspace) bool {
	return rt.credential == ws.Credential && rt.endpoint.String() == ws.Endpoint.String()
}

// identityHeaders are request headers an upstream might read as "who is this". A client
// must never be able to assert them, so they are removed before proxying. The list is
// auth's, which also keeps them from being forwarded to a verifier.
var identityHeaders = canonical(auth.IdentityHeaders()...)

func canonical(keys ...string) []string {
	for i, k := range keys {
		keys[i] = http.CanonicalHeaderKey(k)
	}
	return keys
}

func (g *Gateway) newRoute(user string, ws backend.Workspace) *route {
	rt := &route{user: user, endpoint: ws.Endpoint, credential: ws.Credential}
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	target := ws.Endpoint
	if ws.Endpoint.Scheme == "unix" {
		// The URL's host is never dialled (nor sent: Host is the client's).
		target = &url.URL{Scheme: "http", Host: "workspace"}
	}
	rt.transport = &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if ws.Endpoint.Scheme == "unix" {
				network, addr = "unix", ws.Endpoint.Path
			}
			return dialer.DialContext(ctx, network, addr)
		},
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
		// code-server compresses itself; asking for gzip again would only cost CPU.
		DisableCompression: true,
		ForceAttemptHTTP2:  false,
	}
	rt.cookie = credentialCookie(ws.Credential)
	rt.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			g.prepareUpstream(pr, rt.cookie)
		},
		ModifyResponse: func(resp *http.Response) error {
			if err := g.filterWorkspaceResponse(resp); err != nil {
				return err
			}
			return takeOverUpgrade(resp)
		},
		Transport:      rt.transport,
		BufferPool:     copyBuffers,
		// 0: responses go out as the write buffer fills, and ReverseProxy flushes
		// streaming responses (unknown length, event streams) after every write itself;
		// -1 would cost a flush syscall per write of every small response.
		FlushInterval: 0,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			g.proxyError(w, r, rt, err)
		},
		ErrorLog: nil,
	}
	return rt
}

// prepareUpstream makes a request safe to send to a workspace: Host kept (and
// X-Forwarded-Host set: code-server checks a WebSocket's Origin against them, and a real
// visit's Origin is the gateway's host), the client's forwarding headers replaced, every
// identity-looking header and the gateway's and platform's cookies removed, and the
// workspace's credential added — it rides on the upstream request only, the browser never
// sees it (a client-sent code-server-session was stripped with the rest).
func (g *Gateway) prepareUpstream(pr *httputil.ProxyRequest, cookie string) {
	pr.Out.Host = pr.In.Host
	pr.SetXForwarded()
	h := pr.Out.Header
	for _, k := range g.strippedHeaders {
		delete(h, k) // keys are canonical already: no per-request canonicalisation
	}
	for _, c := range g.strippedCookies {
		stripCookie(h, c)
	}
	if cookie != "" {
		h["Cookie"] = append(h["Cookie"], cookie)
	}
	pr.Out = traceConn(pr.Out, pr.In)
}

func credentialCookie(credential string) string {
	if credential == "" {
		return ""
	}
	return backend.CodeServerCookie + "=" + credential
}

// copyBuffers recycles the proxy's 32 KiB copy buffers: without a pool ReverseProxy
// allocates and zeroes one per response, the largest cost on the hot path.
var copyBuffers = &proxyBufferPool{}

type proxyBufferPool struct{ p sync.Pool }

const copyBufferSize = 32 << 10

// The pool holds array pointers, so Put stores a pointer it already has instead of
// allocating a slice header per response.
func (b *proxyBufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[copyBufferSize]byte); ok {
		return v[:]
	}
	return new([copyBufferSize]byte)[:]
}

// array is Get for the WebSocket pumps, which give it back with b.p.Put.
func (b *proxyBufferPool) array() *[copyBufferSize]byte {
	if v, ok := b.p.Get().(*[copyBufferSize]byte); ok {
		return v
	}
	return new([copyBufferSize]byte)
}

func (b *proxyBufferPool) Put(v []byte) {
	if cap(v) >= copyBufferSize {
		b.p.Put((*[copyBufferSize]byte)(v[:copyBufferSize]))
	}
}

// stripCookie removes the gateway's session cookie from the Cookie header(s) so
// code-server and its extensions never see it.
func stripCookie(h http.Header, name string) {
	lines := h["Cookie"]
	if len(lines) == 0 {
		return
	}
	var kept []string
	changed := false
	for _, line := range lines {
		if !strings.Contains(line, name) {
			kept = append(kept, line)
			continue
		}
		changed = true
		parts := strings.Split(line, ";")
		out := parts[:0]
		for _, p := range parts {
			tp := strings.TrimSpace(p)
			if tp == name || strings.HasPrefix(tp, name+"=") {
				continue
			}
			out = append(out, tp)
		}
		if len(out) > 0 {
			kept = append(kept, strings.Join(out, "; "))
		}
	}
	if !changed {
		return
	}
	if len(kept) == 0 {
		h.Del("Cookie")
		return
	}
	h["Cookie"] = kept
}

// proxyError handles a workspace that stopped answering: the route is dropped so the
// next page visit wakes the workspace again instead of failing forever.
func (g *Gateway) proxyError(w http.ResponseWriter, r *http.Request, rt *route, err error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, errTakenOver) {
		return // the client went away, or the WebSocket is proxied (wspump.go)
	}
	if errors.Is(err, errCredentialRefused) {
		// Drop the stale route: the next request asks the backend for the current
		// endpoint and credential.
		g.routes.CompareAndDelete(rt.user, rt)
		rt.closeIdle()
		g.cfg.Logger.Warn("workspace refused the route's credential; re-reading it", "workspace_user", rt.user)
		w.Header().Set("Retry-After", "1")
		if isNavigation(r) {
			render(w, http.StatusServiceUnavailable, "error.html", pageData{Title: "Reconnecting", Refresh: 1,
				Message: "Your workspace was restarted. Reconnecting…"})
			return
		}
		http.Error(w, "workspace restarted; retry", http.StatusServiceUnavailable)
		return
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		g.routes.CompareAndDelete(rt.user, rt)
		rt.closeIdle()
		if isVSCodeSocket(r) {
			// A stale route (the workspace stopped under it): tell the tab, once the
			// backend confirms the workspace is not running.
			if ws, gerr := g.cfg.Backend.Get(r.Context(), rt.user); gerr != nil || ws.State != backend.StateRunning {
				g.tombstone(w, r, reasonStopped)
				return
			}
		}
	}
	g.cfg.Logger.Warn("proxy error", "workspace_user", rt.user, "method", r.Method, "path", r.URL.Path, "err", err)
	if isNavigation(r) {
		render(w, http.StatusBadGateway, "error.html", pageData{Title: "Workspace not reachable", Refresh: 2,
			Message: "Your workspace is not answering. This page retries by itself."})
		return
	}
	http.Error(w, "workspace not reachable", http.StatusBadGateway)
}
