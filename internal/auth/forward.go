package auth

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/codehub-dev/codehub/internal/identity"
)

// Forward defaults.
const (
	DefaultForwardTimeout      = 5 * time.Second
	DefaultForwardUserHeader   = "X-Remote-User"
	DefaultForwardUIDHeader    = "X-Unix-Uid"
	DefaultForwardGroupsHeader = "X-User-Group-Ids"
)

// maxVerifyBody bounds the verifier answer's body that is read (and discarded).
const maxVerifyBody = 64 << 10

// ErrMalformedAnswer is wrapped (together with ErrUnavailable) when a verifier answers
// 2xx with identity headers that cannot be trusted: missing or empty user, control
// characters, a non-numeric or out-of-range uid/gid, over-long values, repeated
// headers. Such an answer never signs anyone in. It is treated as the provider being
// broken (503), not as "not signed in", because redirecting to the platform's login
// page would loop: the platform considers the session valid.
var ErrMalformedAnswer = errors.New("malformed verifier answer")

// Secret is an opaque credential passed through from a verifier. It never prints or
// logs its value; use Reveal where the value is actually needed.
type Secret struct{ v string }

func (s Secret) Reveal() string       { return s.v }
func (s Secret) IsZero() bool         { return s.v == "" }
func (s Secret) String() string       { return "[redacted]" }
func (s Secret) GoString() string     { return "auth.Secret{[redacted]}" }
func (s Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }
func (s Secret) MarshalText() ([]byte, error) {
	return []byte("[redacted]"), nil
}

// ForwardConfig configures Forward. Only URL is required.
type ForwardConfig struct {
	// URL of the verification endpoint (ingress-nginx auth-url), e.g.
	// https://dashboard.example.com/api/data_sessions/verifications/app_service.
	URL string
	// Method is the verification request's method (default POST).
	Method string
	// Cookies restricts the forwarded Cookie header to these cookie names (e.g.
	// "session"); empty forwards every cookie except codehub's own (codehub_*,
	// __Host-codehub_*), which are never forwarded.
	Cookies []string
	// Headers are the other credential request headers forwarded to the verifier
	// (default: Authorization; a "Bearer chub_..." codehub API token is never
	// forwarded). Identity headers (the response mapping below, and IdentityHeaders
	// but Authorization and Proxy-Authorization) can never be forwarded: NewForward
	// refuses such a configuration.
	Headers []string
	// Response header mapping. User defaults to X-Remote-User, UID to X-Unix-Uid,
	// Groups to X-User-Group-Ids (comma-separated); GID is unset by default. Note that
	// Iguazio's X-User-Id is a UUID, not a unix uid: do not map it to UID.
	UserHeader, UIDHeader, GIDHeader, GroupsHeader string
	// SessionKeyHeader, if set (Iguazio: X-V3io-Session-Key), is passed through as
	// Verified.SessionKey. It is a secret: never logged, never part of Identity.
	SessionKeyHeader string
	// LoginURL is where browsers without a valid session go. "{url}" is replaced by the
	// query-escaped absolute URL to return to, "{path}" by the query-escaped local
	// path, e.g. "https://dashboard.example.com/login?rd={url}". Empty: gateway's own.
	LoginURL string
	// PublicURL (scheme://host) builds {url}; empty uses the request's Host and TLS.
	PublicURL string
	// Timeout bounds one verification (default 5s).
	Timeout time.Duration
	// Transport overrides the HTTP transport (e.g. for a private CA).
	Transport http.RoundTripper
	// Cache configures the verification cache.
	Cache CacheConfig
	// Logger receives provider failures (never credentials); default slog.Default().
	Logger *slog.Logger
}

// Forward is a RequestAuthenticator that asks a platform's verification endpoint who
// the request's session belongs to, the ingress-nginx auth-url way.
type Forward struct {
	providerData
	cfg     ForwardConfig
	url     *url.URL
	client  *http.Client
	cache   *VerifyCache
	log     *slog.Logger
	headers []string // canonical forwarded header names, sorted
	cookies map[string]bool
}

// NewForward validates cfg and returns a Forward.
func NewForward(cfg ForwardConfig) (*Forward, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("forward: verification URL must be an absolute http(s) URL")
	}
	if u.User != nil {
		return nil, fmt.Errorf("forward: verification URL must not carry credentials")
	}
	if cfg.Method == "" {
		cfg.Method = http.MethodPost
	}
	cfg.Method = strings.ToUpper(cfg.Method)
	switch cfg.Method {
	case http.MethodGet, http.MethodPost, http.MethodHead:
	default:
		return nil, fmt.Errorf("forward: method must be GET, POST or HEAD")
	}
	if cfg.Headers == nil {
		cfg.Headers = []string{"Authorization"}
	}
	if cfg.UserHeader == "" {
		cfg.UserHeader = DefaultForwardUserHeader
	}
	if cfg.UIDHeader == "" {
		cfg.UIDHeader = DefaultForwardUIDHeader
	}
	if cfg.GroupsHeader == "" {
		cfg.GroupsHeader = DefaultForwardGroupsHeader
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultForwardTimeout
	}
	login, err := newLoginTemplate(cfg.LoginURL, cfg.PublicURL)
	if err != nil {
		return nil, fmt.Errorf("forward: %w", err)
	}
	f := &Forward{providerData: providerData{login: login, claims: claimNames{
		User: cfg.UserHeader, UID: cfg.UIDHeader, GID: cfg.GIDHeader, Groups: cfg.GroupsHeader,
	}}, cfg: cfg, url: u, log: cfg.Logger, cookies: map[string]bool{}}
	if f.log == nil {
		f.log = slog.Default()
	}
	mapped := []string{cfg.UserHeader, cfg.UIDHeader, cfg.GIDHeader, cfg.GroupsHeader, cfg.SessionKeyHeader}
	for _, h := range append([]string{"Cookie"}, cfg.Headers...) {
		c := http.CanonicalHeaderKey(strings.TrimSpace(h))
		if c == "" {
			continue
		}
		// A verifier answer must never be confused with what the client sent.
		credential := c == "Authorization" || c == "Proxy-Authorization"
		if containsFold(mapped, c) || (!credential && containsFold(identityHeaders, c)) {
			return nil, fmt.Errorf("forward: identity header %s cannot be forwarded to the verifier", c)
		}
		if !slices.Contains(f.headers, c) {
			f.headers = append(f.headers, c)
		}
	}
	slices.Sort(f.headers)
	for _, c := range cfg.Cookies {
		if c = strings.TrimSpace(c); c != "" {
			f.cookies[c] = true
		}
	}

	tr := cfg.Transport
	if tr == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.Proxy = nil // the verifier is a platform service; ambient proxies must not see cookies
		t.MaxIdleConnsPerHost = 64
		t.ResponseHeaderTimeout = cfg.Timeout
		t.MaxResponseHeaderBytes = 64 << 10
		t.DialContext = (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext
		t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		tr = t
	}
	f.client = &http.Client{
		Transport: tr,
		Timeout:   cfg.Timeout,
		// A redirect is an answer we do not understand; following it could send the
		// credentials elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	f.cache = NewVerifyCache(cfg.Cache)
	return f, nil
}

func (*Forward) Name() string { return "forward" }

// Cache exposes the verification cache (for metrics and Purge).
func (f *Forward) Cache() *VerifyCache { return f.cache }

// Identify implements RequestAuthenticator.
func (f *Forward) Identify(r *http.Request) (identity.Identity, error) {
	v, err := f.Verify(r)
	return v.Identity, err
}

// Verify is Identify plus the pass-through attributes (SessionKey).
func (f *Forward) Verify(r *http.Request) (Verified, error) {
	creds := f.credentials(r)
	if len(creds) == 0 {
		return Verified{}, ErrNoCredentials
	}
	parts := make([]string, 0, 2*len(creds))
	for _, h := range f.headers {
		if v, ok := creds[h]; ok {
			parts = append(parts, h, v)
		}
	}
	key := f.cache.Key(parts...)
	// X-Original-URI carries the path only: query strings can hold secrets
	// (code-server's reconnectionToken, tokens in links) the platform does not need.
	origURI, origMethod := r.URL.EscapedPath(), r.Method
	return f.cache.Do(r.Context(), key, func(ctx context.Context) (Verified, error) {
		return f.verify(ctx, creds, origURI, origMethod)
	})
}

// credentials returns the credential headers to forward, by canonical name; only
// configured headers, and of the Cookie header only the configured cookies.
func (f *Forward) credentials(r *http.Request) map[string]string {
	out := map[string]string{}
	for _, h := range f.headers {
		if h == "Cookie" {
			if c := f.cookieHeader(r); c != "" {
				out[h] = c
			}
			continue
		}
		vals := r.Header.Values(h)
		if len(vals) == 0 {
			continue
		}
		v := strings.Join(vals, ", ")
		if h == "Authorization" && isCodehubToken(v) {
			continue
		}
		if strings.TrimSpace(v) != "" {
			out[h] = v
		}
	}
	return out
}

// cookieHeader rebuilds the Cookie header to forward: the configured cookies, or all
// of them, but never codehub's own (codehub_*, __Host-codehub_*, __Secure-codehub_*):
// the platform has no business seeing codehub sessions.
func (f *Forward) cookieHeader(r *http.Request) string {
	var parts []string
	for _, c := range r.Cookies() {
		if c.Value == "" || isCodehubCookie(c.Name) || (len(f.cookies) > 0 && !f.cookies[c.Name]) {
			continue
		}
		parts = append(parts, c.Name+"="+c.Value)
	}
	if len(f.cookies) > 0 {
		slices.Sort(parts) // the cache key does not depend on cookie order
	}
	return strings.Join(parts, "; ")
}

func isCodehubCookie(name string) bool {
	name = strings.TrimPrefix(strings.TrimPrefix(name, "__Host-"), "__Secure-")
	return strings.HasPrefix(name, "codehub_")
}

// codehubTokenPrefix marks codehub's own personal API tokens (internal/tokens.Prefix);
// an Authorization header carrying one is never forwarded to the platform.
const codehubTokenPrefix = "chub_"

func isCodehubToken(authz string) bool {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(authz), " ")
	return ok && strings.EqualFold(scheme, "Bearer") && strings.HasPrefix(strings.TrimSpace(tok), codehubTokenPrefix)
}

func (f *Forward) verify(ctx context.Context, creds map[string]string, origURI, origMethod string) (Verified, error) {
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, f.cfg.Method, f.url.String(), nil)
	if err != nil {
		return Verified{}, fmt.Errorf("%w: forward: %v", ErrUnavailable, err)
	}
	for h, v := range creds {
		req.Header.Set(h, v)
	}
	req.Header.Set("X-Original-URI", origURI)
	req.Header.Set("X-Original-Method", origMethod)
	req.Header.Set("User-Agent", "codehub-forward-auth")
	start := time.Now()
	resp, err := f.client.Do(req)
	if err != nil {
		// *url.Error names the verifier URL and the failure, never request headers.
		f.log.Warn("forward auth: verifier unreachable", "url", f.url.Redacted(), "err", errors.Unwrap(err), "elapsed", time.Since(start).Round(time.Millisecond))
		return Verified{}, fmt.Errorf("%w: forward: verifier unreachable: %v", ErrUnavailable, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxVerifyBody))

	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return Verified{}, ErrBadCredentials
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		f.log.Warn("forward auth: verifier failed", "url", f.url.Redacted(), "status", resp.StatusCode)
		return Verified{}, fmt.Errorf("%w: forward: verifier answered %d", ErrUnavailable, resp.StatusCode)
	}
	v, err := f.parse(resp.Header)
	if err != nil {
		f.log.Warn("forward auth: verifier answered malformed identity", "url", f.url.Redacted(), "err", err)
		return Verified{}, fmt.Errorf("%w: %w: forward: %v", ErrUnavailable, ErrMalformedAnswer, err)
	}
	return v, nil
}

// parse maps the verifier's response headers to an identity (claimNames.identity) and
// the pass-through session key. Error messages name the header and the problem, never
// the value.
func (f *Forward) parse(h http.Header) (Verified, error) {
	id, err := f.claims.identity(headerSource(h))
	if err != nil {
		return Verified{}, err
	}
	v := Verified{Identity: id}
	if f.cfg.SessionKeyHeader != "" {
		s, ok, err := single(h, f.cfg.SessionKeyHeader, maxSecretLen)
		if err != nil {
			return Verified{}, &claimError{name: f.cfg.SessionKeyHeader, problem: err.Error()}
		}
		if ok {
			v.SessionKey = Secret{s}
		}
	}
	return v, nil
}
