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
	ref        backend.Ref
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

func (g *Gateway) newRoute(ref backend.Ref, ws backend.Workspace) *route {
	rt := &route{ref: ref, endpoint: ws.Endpoint, credential: ws.Credential}
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
		Transport:  rt.transport,
		BufferPool: copyBuffers,
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
	setXForwarded(pr)
	h := pr.Out.Header
	for _, k := range g.strippedHeaders {
		delete(h, k) // keys are canonical already: no per-request canonicalisation
	}
	rewriteCookies(h, g.strippedCookies, cookie)
	pr.Out = traceConn(pr.Out, pr.In)
}

// setXForwarded is httputil.ProxyRequest.SetXForwarded with the three header values in
// one allocation instead of three (Header.Set allocates a slice per value); the result
// is the same (TestSetXForwardedAsLibrary).
func setXForwarded(pr *httputil.ProxyRequest) {
	h := pr.Out.Header
	v := new([3]string)
	v[1] = pr.In.Host
	v[2] = "http"
	if pr.In.TLS != nil {
		v[2] = "https"
	}
	if ip, _, err := net.SplitHostPort(pr.In.RemoteAddr); err == nil {
		if prior := h["X-Forwarded-For"]; len(prior) > 0 {
			ip = strings.Join(prior, ", ") + ", " + ip
		}
		v[0] = ip
		h["X-Forwarded-For"] = v[0:1:1]
	} else {
		delete(h, "X-Forwarded-For")
	}
	h["X-Forwarded-Host"] = v[1:2:2]
	h["X-Forwarded-Proto"] = v[2:3:3]
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

// rewriteCookies removes the cookies named in strip from the Cookie header(s), so
// code-server and its extensions never see them, and adds add ("name=value", or ""). It
// rewrites the outgoing request's own copy of the lines in place and builds at most one
// new line (the usual browser request, one line with the session among other cookies,
// costs one allocation; a line with the session alone, none).
func rewriteCookies(h http.Header, strip []string, add string) {
	lines := h["Cookie"]
	kept := lines[:0]
	for _, line := range lines {
		if !containsAny(line, strip) {
			kept = append(kept, line)
			continue
		}
		if line = withoutCookies(line, strip, add); line != "" {
			kept = append(kept, line)
		}
		add = ""
	}
	if add != "" {
		kept = append(kept, add)
	}
	if len(kept) == 0 {
		delete(h, "Cookie")
		return
	}
	h["Cookie"] = kept
}

func containsAny(line string, names []string) bool {
	for _, n := range names {
		if strings.Contains(line, n) {
			return true
		}
	}
	return false
}

// withoutCookies is line without the cookies named in strip, with add appended. A result
// that is one piece of line (or add alone) is returned without copying.
func withoutCookies(line string, strip []string, add string) string {
	var b strings.Builder
	first := "" // the only piece so far, not yet copied into b
	n := 0
	put := func(piece string) {
		switch n++; n {
		case 1:
			first = piece
		case 2:
			b.Grow(len(line) + len(add))
			b.WriteString(first)
			fallthrough
		default:
			b.WriteString("; ")
			b.WriteString(piece)
		}
	}
	for rest := line; rest != ""; {
		var piece string
		piece, rest, _ = strings.Cut(rest, ";")
		piece = strings.TrimSpace(piece)
		if piece == "" || isCookie(piece, strip) {
			continue
		}
		put(piece)
	}
	if add != "" {
		put(add)
	}
	if n == 1 {
		return first
	}
	return b.String()
}

// isCookie reports whether piece ("name=value" or "name") names one of names.
func isCookie(piece string, names []string) bool {
	name, _, _ := strings.Cut(piece, "=")
	for _, n := range names {
		if name == n {
			return true
		}
	}
	return false
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
		g.routes.dropStale(rt)
		g.cfg.Logger.Warn("workspace refused the route's credential; re-reading it", "workspace", rt.ref.String())
		retryLater(w, r, 1, "Reconnecting", "Your workspace was restarted. Reconnecting…", "workspace restarted; retry")
		return
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		g.routes.dropStale(rt)
		if isVSCodeSocket(r) {
			// A stale route (the workspace stopped under it): tell the tab, once the
			// backend confirms the workspace is not running.
			if ws, gerr := g.cfg.Backend.Get(r.Context(), rt.ref); gerr != nil || ws.State != backend.StateRunning {
				g.tombstone(w, r, reasonStopped)
				return
			}
		}
	}
	g.cfg.Logger.Warn("proxy error", "workspace", rt.ref.String(), "method", r.Method, "path", r.URL.Path, "err", err)
	if isNavigation(r) {
		render(w, http.StatusBadGateway, "error.html", pageData{Title: "Workspace not reachable", Refresh: 2,
			Message: "Your workspace is not answering. This page retries by itself."})
		return
	}
	http.Error(w, "workspace not reachable", http.StatusBadGateway)
}
