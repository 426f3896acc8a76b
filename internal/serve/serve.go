// Package serve assembles and runs the gateway process: state dir, keys, users,
// backend, listeners, signals. cmd/codehub only parses flags into Options.
package serve

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/codehub-dev/codehub/internal/auth"
	"github.com/codehub-dev/codehub/internal/gateway"
	"github.com/codehub-dev/codehub/internal/metrics"
	"github.com/codehub-dev/codehub/internal/profile"
	"github.com/codehub-dev/codehub/internal/session"
	"github.com/codehub-dev/codehub/internal/tokens"
	"github.com/codehub-dev/codehub/internal/users"
)

// Options are the settings of `codehub serve`.
type Options struct {
	Listen            string
	MetricsListen     string
	StateDir          string
	CodeServer        string
	Init              string
	BuiltinExtensions string
	// IdleTimeout and MaxRunTime are the local backend's stops (0 = never); IdleTimeoutSet
	// says the flag was given (refused with the kubernetes backend, where the operator stops
	// workspaces from spec.idleTimeout). BusyCPU: cores above which a workspace is busy.
	IdleTimeout       time.Duration
	IdleTimeoutSet    bool
	MaxRunTime        time.Duration
	BusyCPU           float64
	SessionTTL        time.Duration
	SessionKeyFile    string
	ReconnectionGrace time.Duration
	StopGrace         time.Duration
	ShutdownTimeout   time.Duration
	TLSCert, TLSKey   string
	// Backend is "local" (code-server processes here) or "kubernetes" (Workspaces).
	Backend string
	// KubernetesConfig is the kubernetes backend's file (namespace, Workspace defaults).
	KubernetesConfig string
	// Namespace overrides the file's namespace.
	Namespace string
	// WorkspaceOrigins is the main host when each workspace gets its own host.
	WorkspaceOrigins string
	// MaxWorkspaces is how many workspaces a user may have, the default one included
	// (0 = gateway.DefaultMaxWorkspaces).
	MaxWorkspaces int
	// AdminUsers and AdminGroups are admins besides the users file's admin flag.
	AdminUsers, AdminGroups []string
	// Auth selects how requests are identified besides local sign-in: "local" (only),
	// "forward" (platform session verification), "header" (trusted proxy), "oidc".
	Auth    string
	Forward auth.ForwardConfig
	Header  auth.HeaderConfig
	OIDC    auth.OIDCConfig
	Secure  bool // cookie Secure/__Host- when TLS terminates in front of the gateway
	// SharedUnixUser lets several users share the gateway's unix user (a trusted team:
	// everyone can act as everyone); without it a non-root gateway serves one person.
	SharedUnixUser bool
	// Profiles is the file of workspace profiles (empty: one built-in default).
	Profiles string
	// CodeServerAssets is a trusted code-server tree whose static files the gateway
	// serves to everyone (default with the local backend: the --code-server tree; "none"
	// turns it off).
	CodeServerAssets string
	// TrustedProxies (CIDRs) may name the client in X-Forwarded-For (sign-in throttling).
	TrustedProxies []string
	PublicURL      string
	Stdout         io.Writer // where the first admin's password is printed, once
	Logger         *slog.Logger
}

// Run serves until ctx is done or SIGINT/SIGTERM, then drains. Every resource it opened is
// closed on every error path.
func Run(ctx context.Context, o Options) (err error) {
	log := o.Logger
	if o.Backend == "" {
		o.Backend = "local"
	}
	if err := checkOptions(o); err != nil {
		return err
	}
	var cleanup []func()
	defer func() {
		if err != nil {
			for i := len(cleanup) - 1; i >= 0; i-- {
				cleanup[i]()
			}
		}
	}()
	if err := ensureStateDir(o.StateDir, o.Backend == "local" && os.Geteuid() == 0); err != nil {
		return err
	}
	if o.Backend == "local" {
		if _, err := CheckCodeServer(o.CodeServer, filepath.Join(o.StateDir, "tmp")); err != nil {
			return err
		}
	}
	store, err := users.Open(filepath.Join(o.StateDir, "users.json"))
	if err != nil {
		return err
	}
	keyFile := o.SessionKeyFile
	if keyFile == "" {
		keyFile = filepath.Join(o.StateDir, "session.key")
	}
	key, err := session.LoadOrCreateKey(keyFile)
	if err != nil {
		return err
	}
	secure := o.Secure || o.TLSCert != ""
	codec, err := session.NewCodec(key, gateway.CookieName(secure))
	if err != nil {
		return err
	}
	revoked, err := session.LoadRevocations(filepath.Join(o.StateDir, "revoked-sessions.json"))
	if err != nil {
		return err
	}
	toks, err := tokens.Open(filepath.Join(o.StateDir, "tokens.json"))
	if err != nil {
		return err
	}
	// The OIDC state cookie key is derived from the session key, so every replica that
	// shares the session key also accepts the others' sign-in callbacks.
	stateKey := sha256.Sum256(append([]byte("codehub oidc state\x00"), key...))
	o.OIDC.StateKey = stateKey[:]
	requestAuth, interactive, err := newAuthenticators(o)
	if err != nil {
		return err
	}
	metricsAuth, err := metricsToken(o)
	if err != nil {
		return err
	}
	proxies, err := parsePrefixes(o.TrustedProxies)
	if err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}

	// Bind before starting anything, so a port clash fails fast with nothing to undo.
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.Listen, unwrapSyscall(err))
	}
	cleanup = append(cleanup, func() { ln.Close() })
	var metricsLn net.Listener
	if o.MetricsListen != "" {
		if metricsLn, err = net.Listen("tcp", o.MetricsListen); err != nil {
			return fmt.Errorf("metrics listen on %s: %w", o.MetricsListen, unwrapSyscall(err))
		}
		cleanup = append(cleanup, func() { metricsLn.Close() })
	}

	profiles, err := profile.Load(o.Profiles)
	if err != nil {
		return fmt.Errorf("--profiles: %w", err)
	}
	// The URL browsers use: given, or (local backend) derived from the listener. A derived
	// one on Kubernetes would be the pod's own address, useless to a browser: the agent API
	// then reports none and the extension uses the operator's CODEHUB_PUBLIC_URL.
	agentPublicURL := o.PublicURL
	if o.PublicURL == "" {
		scheme := "http"
		if o.TLSCert != "" {
			scheme = "https"
		}
		o.PublicURL = fmt.Sprintf("%s://%s/", scheme, displayAddr(ln.Addr()))
		if o.Backend == "local" {
			agentPublicURL = o.PublicURL
		}
	}
	m := metrics.New()
	be, err := newBackend(o, store, profiles, func(d time.Duration) { m.SpawnDuration.Observe(d.Seconds()) })
	if err != nil {
		return err
	}
	cleanup = append(cleanup, func() { _ = be.Shutdown(context.Background()) })
	m.Watch(be)
	assets, err := assetCache(o)
	if err != nil {
		return err
	}
	// Only once everything else is known to work: a refused start leaves no new state.
	if err := firstAdmin(store, o.StateDir, o.Stdout, log); err != nil {
		return err
	}
	if o.Backend == "local" {
		warnBuiltinExtensions(o.BuiltinExtensions, log) // after the checks: a refused start says one line
	}
	gw := gateway.New(gateway.Config{
		Backend: be, Passwords: auth.Local{Users: store}, Accounts: store, Codec: codec, Revocations: revoked, Tokens: toks,
		RequestAuth: requestAuth, Interactive: interactive, StripCookies: o.Forward.Cookies, StripHeaders: providerHeaders(o),
		Secure: secure, SessionTTL: o.SessionTTL, Logger: log, Metrics: m, PublicURL: agentPublicURL,
		WorkspaceOrigins: o.WorkspaceOrigins, MaxWorkspaces: o.MaxWorkspaces, AdminUsers: o.AdminUsers, AdminGroups: o.AdminGroups,
		TrustedProxies: proxies, Assets: assets, Profiles: profiles,
	})
	var agentLn net.Listener
	if o.Backend == "local" {
		if agentLn, err = listenAgent(agentSocket(o.StateDir)); err != nil {
			return err
		}
		cleanup = append(cleanup, func() { agentLn.Close() })
	}
	return runServers(ctx, o, gw, ln, metricsLn, agentLn, m, metricsAuth)
}

// assetCache is the shared static-asset cache: from --code-server-assets, else (local
// backend) from the code-server the gateway runs itself.
func assetCache(o Options) (*gateway.AssetCache, error) {
	tree := o.CodeServerAssets
	if tree == "none" {
		return nil, nil
	}
	if tree == "" {
		if o.Backend != "local" {
			return nil, nil
		}
		launcher, err := exec.LookPath(o.CodeServer)
		if err != nil {
			return nil, nil // CheckCodeServer has said why
		}
		if launcher, err = filepath.EvalSymlinks(launcher); err != nil {
			return nil, nil
		}
		tree = filepath.Dir(launcher)
	}
	c, err := gateway.NewAssetCache(tree, 0)
	if err != nil {
		if o.CodeServerAssets != "" {
			return nil, fmt.Errorf("--code-server-assets: %w", err)
		}
		o.Logger.Warn("code-server's static files are served by each workspace", "reason", err)
		return nil, nil
	}
	o.Logger.Info("serving code-server's static files to every user", "release", c.Release(), "from", tree)
	return c, nil
}

// parsePrefixes reads CIDRs (a bare address is one host); none may cover every address.
func parsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, c := range list {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			a, aerr := netip.ParseAddr(c)
			if aerr != nil {
				return nil, fmt.Errorf("%q is not a CIDR or an address", c)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Bits() == 0 {
			return nil, fmt.Errorf("%q trusts every address", c)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// checkOptions refuses settings that cannot work, before anything is created.
func checkOptions(o Options) error {
	if o.StateDir == "" {
		return errors.New("--state-dir is required")
	}
	if err := checkAuthMode(o.Auth); err != nil {
		return err
	}
	if o.Backend != "local" && o.Backend != "kubernetes" {
		return fmt.Errorf("--backend must be local or kubernetes, not %q", o.Backend)
	}
	if o.MaxWorkspaces < 0 {
		return fmt.Errorf("--max-workspaces must be at least 1 (the default workspace), not %d", o.MaxWorkspaces)
	}
	if o.WorkspaceOrigins != "" && !(o.Secure || o.TLSCert != "") {
		// Without the __Host- prefix a workspace host could toss a cookie onto the main host.
		return errors.New("--workspace-origins needs TLS: pass --tls-cert/--tls-key or --secure-cookies")
	}
	if o.Backend == "kubernetes" && (o.IdleTimeoutSet || o.MaxRunTime > 0) {
		return errors.New("--idle-timeout and --max-run-time are for the local backend: on Kubernetes the operator alone stops workspaces, " +
			"from each Workspace's spec.idleTimeout and spec.maxRunTime (set them in --workspace-defaults, or the chart's workspaceDefaults)")
	}
	if o.SharedUnixUser && (o.Backend != "local" || os.Geteuid() == 0) {
		return errors.New("--shared-unix-user is for a local backend that does not run as root (as root every workspace gets its own unix uid)")
	}
	return nil
}
