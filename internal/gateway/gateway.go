// Package gateway is codehub's HTTP front door: it signs users in, finds each user's own
// workspace from the session identity alone, wakes it on a real page visit, proxies HTTP
// and WebSocket traffic to it, and tells the backend when a person works in it (activity.go).
package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/codehub-dev/codehub/internal/audit"
	"github.com/codehub-dev/codehub/internal/auth"
	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/idle"
	"github.com/codehub-dev/codehub/internal/metrics"
	"github.com/codehub-dev/codehub/internal/profile"
	"github.com/codehub-dev/codehub/internal/session"
	"github.com/codehub-dev/codehub/internal/tokens"
)

// Prefix is reserved for the gateway's own pages; code-server never uses it.
const Prefix = "/_codehub/"

// Config wires a gateway.
type Config struct {
	Backend backend.Backend
	// Passwords backs the sign-in form; nil hides it (platform or OIDC sign-in only).
	Passwords auth.PasswordAuthenticator
	// RequestAuth identifies requests from platform credentials (forward auth, trusted
	// header) when there is no codehub session; nil = sessions only.
	RequestAuth auth.RequestAuthenticator
	// Interactive is a browser sign-in flow (OIDC) that ends in a codehub session.
	Interactive auth.InteractiveAuthenticator
	// Accounts is the local users file as the request path reads it: local sessions and
	// tokens are checked against it on every use. nil = no local accounts.
	Accounts Accounts
	// Tokens holds personal API tokens; nil disables token authentication.
	Tokens *tokens.Store
	// AdminUsers and AdminGroups grant admin rights besides the local users file's admin
	// flag, whatever the provider (withAdmin: providers never decide admin).
	AdminUsers  []string
	AdminGroups []string
	// WorkspaceOrigins, when set to the main host (e.g. "vscode.example.com"), serves
	// each workspace on its own host <workspace>.<main host>; see origins.go.
	WorkspaceOrigins string
	// MaxWorkspaces is how many workspaces a user may have, her default one included
	// (0 = DefaultMaxWorkspaces; 1 = the default one only).
	MaxWorkspaces int
	// Profiles are the kinds of workspace users choose from (nil: the built-in default).
	Profiles *profile.Catalog
	// Assets serves code-server's static files from a trusted tree to every user (nil: each
	// workspace serves its own).
	Assets *AssetCache
	// StripCookies are platform cookies (credentials) removed before code-server.
	StripCookies []string
	// StripHeaders are request headers the configured providers read identity or
	// credentials from; they are removed before any workspace, besides the built-in list.
	StripHeaders []string
	Codec        *session.Codec
	Revocations  *session.Revocations
	// Secure marks the cookie Secure and gives it the __Host- prefix; set when the
	// gateway is reached over TLS (directly or through a TLS-terminating ingress).
	Secure     bool
	SessionTTL time.Duration
	// ActivityFlush is how often people's activity is handed to the backend, which stores
	// it and stops idle workspaces (default 5 s; the gateway itself never stops one).
	ActivityFlush time.Duration
	// PublicURL is the gateway as browsers reach it (the agent API reports it to the codehub
	// extension); empty = derived from each request.
	PublicURL string
	// TrustedProxies are the proxies whose X-Forwarded-For names the client (sign-in
	// throttling); other peers are the client themselves.
	TrustedProxies []netip.Prefix
	// HashSlots bounds concurrent password checks (default: the CPU count less one).
	HashSlots int
	Clock     idle.Clock
	Logger    *slog.Logger
	Metrics   *metrics.Metrics
	// Audit records admin actions and the workspace lifecycle (nil: a ring of
	// audit.DefaultSize events logging to Logger).
	Audit *audit.Log
}

// Accounts reports a local account (users.Store implements it).
type Accounts interface {
	Account(user string) (admin bool, changed time.Time, ok bool)
}

// CookieName returns the session cookie's name for the given security mode.
func CookieName(secure bool) string {
	if secure {
		return "__Host-codehub_session"
	}
	return "codehub_session"
}

// Gateway is an http.Handler. Create it with New and stop it with Shutdown.
type Gateway struct {
	cfg        Config
	cookieName string
	internal   http.Handler
	routes     routeTable
	throttle   loginThrottle
	hashing    hashSlots
	sockets    socketSet
	origins    *originMode // nil unless per-workspace origins are on
	handoffs   handoffs
	// strippedCookies and strippedHeaders never reach a workspace.
	strippedCookies []string
	strippedHeaders []string
	stopFlush       context.CancelFunc
	flushDone       chan struct{}
	flushMu         sync.Mutex
	accountsDone    chan struct{}
	// creating serializes the creation of a user's named workspaces (user → *sync.Mutex),
	// so that concurrent creations cannot pass the limit together (named.go).
	creating sync.Map
}

// New returns a gateway and starts handing activity to the backend.
func New(cfg Config) *Gateway {
	if cfg.Clock == nil {
		cfg.Clock = idle.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.ActivityFlush <= 0 {
		cfg.ActivityFlush = defaultActivityFlush
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
		cfg.Metrics.Watch(cfg.Backend)
	}
	if cfg.Profiles == nil {
		cfg.Profiles, _ = profile.New(nil)
	}
	if cfg.Audit == nil {
		cfg.Audit = audit.New(0, cfg.Logger, cfg.Clock.Now)
	}
	if cfg.HashSlots <= 0 {
		cfg.HashSlots = runtime.NumCPU() - 1
	}
	g := &Gateway{cfg: cfg, cookieName: CookieName(cfg.Secure), hashing: newHashSlots(cfg.HashSlots)}
	if cfg.WorkspaceOrigins != "" {
		scheme := "http"
		if cfg.Secure {
			scheme = "https"
		}
		g.origins = &originMode{base: strings.ToLower(cfg.WorkspaceOrigins), scheme: scheme}
	}
	g.handoffs.codecs = map[string]*session.Codec{}
	g.strippedCookies = g.upstreamStrippedCookies()
	g.strippedHeaders = append(canonical(cfg.StripHeaders...), identityHeaders...)
	g.sockets.init(cfg.Metrics.WebSockets)
	g.internal = g.internalMux()
	if n, ok := cfg.Backend.(backend.StopNotifier); ok {
		n.NotifyStops(g.workspaceStopped)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g.stopFlush, g.flushDone, g.accountsDone = cancel, make(chan struct{}), make(chan struct{})
	go g.flushLoop(ctx)
	go g.watchAccounts(ctx)
	return g
}

// Handler returns the gateway wrapped in cross-origin protection: state-changing
// requests (POST, PUT, ...) from another origin are refused before they reach the
// gateway's forms or code-server.
func (g *Gateway) Handler() http.Handler {
	cop := http.NewCrossOriginProtection()
	return cop.Handler(g)
}

// recorders recycles the per-request statusRecorder (it escapes to the handlers as an
// http.ResponseWriter, so it would be allocated for every request); a ResponseWriter is
// not used after its handler returns.
var recorders = sync.Pool{New: func() any { return new(statusRecorder) }}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := recorders.Get().(*statusRecorder)
	*sw = statusRecorder{ResponseWriter: w}
	defer func() {
		*sw = statusRecorder{}
		recorders.Put(sw)
	}()
	label, ok := g.hostLabel(r.Host)
	_, _, isPort := parsePortLabel(label)
	switch {
	case !ok:
		http.Error(sw, "unknown host", http.StatusMisdirectedRequest)
	case isPort:
		g.servePortHost(sw, r, label)
	case label != "":
		g.serveWorkspaceHost(sw, r, label)
	case strings.HasPrefix(r.URL.Path, Prefix):
		g.internal.ServeHTTP(sw, r)
	case g.origins != nil:
		g.serveMainHostInOriginMode(sw, r)
	default:
		g.serveWorkspace(sw, r)
	}
	g.cfg.Metrics.CountStatus(sw.statusCode())
}

// Shutdown closes proxied WebSockets with code 1001 (going away), flushes activity and
// stops the workspaces the backend started.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.stopFlush()
	<-g.flushDone
	<-g.accountsDone
	g.sockets.closeAll(ctx)
	return g.cfg.Backend.Shutdown(ctx)
}

// statusRecorder remembers the status code for metrics. It keeps Hijack and Flush
// reachable through Unwrap (http.ResponseController).
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) statusCode() int {
	if s.code == 0 {
		return http.StatusOK
	}
	return s.code
}
