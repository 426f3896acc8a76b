package gateway

// Benchmarks of the gateway's per-request hot path: session cookie lookup and decode,
// routing by the session's user, header rewriting and the reverse proxy handler. Run:
//
//	go test ./internal/gateway -run '^$' -bench HotPath -benchmem
//
// BenchmarkHotPathBareProxy is the same request through a bare httputil.ReverseProxy
// with the same in-memory upstream: the difference in ns/op and allocs/op is what the
// gateway adds. Nothing here asserts on time; the numbers are for people and profiles.

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codehub-dev/codehub/internal/auth"
	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/idle"
	"github.com/codehub-dev/codehub/internal/session"
	"github.com/codehub-dev/codehub/internal/users"
)

var benchBody = []byte(`{"ok":true,"service":"benchd","note":"small response for proxy benchmarks"}` + "\n")

// memTransport answers every request in memory, like a workspace with zero cost.
type memTransport struct{}

func (memTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		r.Body.Close()
	}
	return &http.Response{
		StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(strings.NewReader(string(benchBody))),
		ContentLength: int64(len(benchBody)), Request: r,
	}, nil
}

// discardWriter is a minimal ResponseWriter whose header map is reused.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) reset()                      { clear(w.h); w.code = 0 }

type hotPath struct {
	gw      *Gateway
	handler http.Handler
	codec   *session.Codec
	cookie  string // "codehub_session=..."
}

// newHotPath builds a gateway (real codec, revocations, metrics, system clock) whose
// user alice is running; with loopback it proxies to a real HTTP server over TCP,
// otherwise the route's Transport is swapped for memTransport.
func newHotPath(b *testing.B, loopback bool) *hotPath {
	b.Helper()
	dir := b.TempDir()
	store, err := users.Open(filepath.Join(dir, "users.json"))
	if err != nil {
		b.Fatal(err)
	}
	key, err := session.LoadOrCreateKey(filepath.Join(dir, "key"))
	if err != nil {
		b.Fatal(err)
	}
	codec, _ := session.NewCodec(key, CookieName(false))
	rev, _ := session.LoadRevocations(filepath.Join(dir, "revoked.json"))
	up := &upstream{srv: httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(benchBody)
	}))}
	b.Cleanup(up.srv.Close)
	be := &mapBackend{byUser: map[string]*upstream{"alice": up}, running: map[string]bool{"alice": true},
		starts: map[string]int{}, stops: map[string]int{}}
	gw := New(Config{Backend: be, Passwords: auth.Local{Users: store}, Accounts: store, Codec: codec, Revocations: rev,
		Clock: idle.SystemClock{}, SessionTTL: 24 * time.Hour, Logger: slog.New(slog.DiscardHandler)})
	b.Cleanup(func() { gw.Shutdown(context.Background()) })
	now := time.Now()
	value, err := codec.Seal(session.Session{ID: session.NewID(), User: "alice", Issued: now, Expires: now.Add(time.Hour)})
	if err != nil {
		b.Fatal(err)
	}
	hp := &hotPath{gw: gw, handler: gw.Handler(), codec: codec, cookie: CookieName(false) + "=" + value}
	// The first request creates the route.
	w := &discardWriter{h: http.Header{}}
	hp.handler.ServeHTTP(w, hp.request("/", hp.cookie))
	if w.code != http.StatusOK {
		b.Fatalf("warm-up request: status %d", w.code)
	}
	if !loopback {
		rt, ok := gw.routes.get(backend.Default("alice"))
		if !ok {
			b.Fatal("no route after the first request")
		}
		rt.proxy.Transport = memTransport{}
	}
	return hp
}

func (hp *hotPath) request(path, cookie string) *http.Request {
	r := httptest.NewRequest("GET", "http://127.0.0.1:8080"+path, nil)
	r.Header.Set("Cookie", cookie)
	r.Header.Set("Accept", "*/*")
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36")
	return r
}

func runHandler(b *testing.B, h http.Handler, r *http.Request) {
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w.reset()
		h.ServeHTTP(w, r)
	}
	b.StopTimer()
	if w.code != http.StatusOK {
		b.Fatalf("status %d", w.code)
	}
}

// BenchmarkHotPathCookieValue: finding the session cookie among a browser's cookies.
func BenchmarkHotPathCookieValue(b *testing.B) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", "_ga=GA1.1.1234567890.1700000000; vscode-tkn=abcdef; "+CookieName(false)+"=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA; theme=dark")
	b.ReportAllocs()
	for b.Loop() {
		if cookieValue(r, CookieName(false)) == "" {
			b.Fatal("not found")
		}
	}
}

// BenchmarkHotPathSessionOpen: authenticating and decrypting the cookie (AES-256-GCM).
func BenchmarkHotPathSessionOpen(b *testing.B) {
	hp := newHotPath(b, false)
	value := strings.TrimPrefix(hp.cookie, CookieName(false)+"=")
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := hp.codec.Open(value, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHotPathGateway: the whole handler as served (cross-origin protection, status
// recording, session, revocation check, route lookup, activity, header rewriting,
// ReverseProxy, metrics), against an in-memory upstream.
func BenchmarkHotPathGateway(b *testing.B) {
	hp := newHotPath(b, false)
	b.Run("session-cookie-only", func(b *testing.B) { runHandler(b, hp.handler, hp.request("/small", hp.cookie)) })
	b.Run("with-other-cookies", func(b *testing.B) {
		runHandler(b, hp.handler, hp.request("/small", "_ga=GA1.1.1234567890.1700000000; "+hp.cookie+"; vscode-tkn=abcdef"))
	})
}

// bufferPool is the httputil.BufferPool the gateway's proxy does not set yet: without
// one, ReverseProxy allocates (and zeroes) a 32 KiB copy buffer for every response.
type bufferPool struct{ p sync.Pool }

func newBufferPool() *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
}

func (b *bufferPool) Get() []byte  { return *(b.p.Get().(*[]byte)) }
func (b *bufferPool) Put(v []byte) { b.p.Put(&v) }

// BenchmarkHotPathGatewayBufferPool: the gateway as in BenchmarkHotPathGateway, with the
// route's ReverseProxy given a BufferPool: the recommended fix, measured before it lands.
func BenchmarkHotPathGatewayBufferPool(b *testing.B) {
	hp := newHotPath(b, false)
	rt, _ := hp.gw.routes.get(backend.Default("alice"))
	rt.proxy.BufferPool = newBufferPool()
	runHandler(b, hp.handler, hp.request("/small", "_ga=GA1.1.1234567890.1700000000; "+hp.cookie+"; vscode-tkn=abcdef"))
}

// BenchmarkHotPathBareProxy: the same request through a bare httputil.ReverseProxy and
// the same in-memory upstream, the floor the gateway is compared with.
func BenchmarkHotPathBareProxy(b *testing.B) {
	target := mustURL("http://127.0.0.1:1")
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		Transport:     memTransport{},
		FlushInterval: -1,
	}
	hp := &hotPath{}
	runHandler(b, rp, hp.request("/small", "_ga=GA1.1.1234567890.1700000000; codehub_session=x; vscode-tkn=abcdef"))
}

// BenchmarkHotPathGatewayLoopback: the handler with its real Transport to an HTTP
// server over loopback TCP (includes the network and the upstream's own cost).
func BenchmarkHotPathGatewayLoopback(b *testing.B) {
	hp := newHotPath(b, true)
	runHandler(b, hp.handler, hp.request("/small", hp.cookie))
}

// BenchmarkHotPathGatewayParallel: the in-memory hot path from GOMAXPROCS goroutines,
// where shared locks and atomics would show as contention.
func BenchmarkHotPathGatewayParallel(b *testing.B) {
	hp := newHotPath(b, false)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := hp.request("/small", hp.cookie)
		w := &discardWriter{h: http.Header{}}
		for pb.Next() {
			w.reset()
			hp.handler.ServeHTTP(w, r)
		}
	})
}

// BenchmarkHotPathGatewayFlushIntervalZero: the gateway with the route's ReverseProxy at
// FlushInterval 0 instead of -1. With -1, ReverseProxy arms a timer for every response
// (time.AfterFunc with a negative delay) whose goroutine flushes at once; with 0 it still
// flushes streams without Content-Length and text/event-stream at once (its own rule),
// and writes fixed-length responses through the server's buffer.
func BenchmarkHotPathGatewayFlushIntervalZero(b *testing.B) {
	hp := newHotPath(b, false)
	rt, _ := hp.gw.routes.get(backend.Default("alice"))
	rt.proxy.FlushInterval = 0
	runHandler(b, hp.handler, hp.request("/small", "_ga=GA1.1.1234567890.1700000000; "+hp.cookie+"; vscode-tkn=abcdef"))
}

// BenchmarkHotPathIdentityHeaders: removing the identity headers a client may not assert,
// as the Rewrite does (Header.Del canonicalises every key) and with a lookup before a
// plain delete (the keys are constants, already canonical).
func BenchmarkHotPathIdentityHeaders(b *testing.B) {
	for _, k := range identityHeaders {
		if http.CanonicalHeaderKey(k) != k {
			b.Fatalf("identity header %q is not canonical", k)
		}
	}
	base := http.Header{"Accept": {"*/*"}, "User-Agent": {"x"}, "Cookie": {"a=b"}, "X-Forwarded-For": {"127.0.0.1"}, "Accept-Encoding": {"gzip"}}
	b.Run("Header.Del", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, k := range identityHeaders {
				base.Del(k)
			}
		}
	})
	b.Run("lookup+delete", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, k := range identityHeaders {
				delete(base, k)
			}
		}
	})
}
