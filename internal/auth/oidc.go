package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/idle"
	"github.com/codehub-dev/codehub/internal/session"
)

// OIDC paths under the gateway's reserved prefix.
const (
	OIDCLoginPath    = "/_codehub/oidc/login"
	OIDCCallbackPath = "/_codehub/oidc/callback"
	// OIDCStateCookie carries state, nonce, PKCE verifier and next, encrypted, for
	// OIDCStateTTL, scoped to the callback path.
	OIDCStateCookie = "codehub_oidc_state"
	OIDCStateTTL    = 10 * time.Minute

	DefaultOIDCUserClaim   = "preferred_username"
	DefaultOIDCGroupsClaim = "groups"
)

// OIDCConfig configures OIDC. Issuer, ClientID, ClientSecret and RedirectURL are
// required.
type OIDCConfig struct {
	// Issuer is the OpenID provider's issuer URL (discovery at
	// Issuer/.well-known/openid-configuration; the ID token's iss must equal it).
	Issuer       string
	ClientID     string
	ClientSecret string
	// RedirectURL is the absolute callback URL registered at the provider; its path
	// must be /_codehub/oidc/callback. An https URL makes the state cookie Secure.
	RedirectURL string
	// Scopes requested (default openid, profile, email; "openid" is always added).
	// Add "groups" for providers that only release the groups claim on request.
	Scopes []string
	// UserClaim names the user (default preferred_username); when the token lacks it,
	// a verified email (email_verified=true) and then sub are used.
	UserClaim string
	// GroupsClaim holds the groups (default groups): a string array or a string.
	GroupsClaim string
	// UIDClaim and GIDClaim, if set, hold unix ids (a JSON number or decimal string).
	UIDClaim, GIDClaim string
	// AllowedUsers and AllowedGroups: when either is non-empty, a user must be listed
	// or be in a listed group. RequiredClaims: each claim must equal the value (for an
	// array claim: contain it; for a boolean: "true"/"false").
	AllowedUsers, AllowedGroups []string
	RequiredClaims              map[string]string
	// StateKey (32 bytes) seals the state cookie (session.Codec.SealPayload). Set the same key on every
	// replica behind one load balancer; nil uses a random per-process key.
	StateKey []byte
	// HTTPClient talks to the provider (discovery, JWKS, token endpoint); default a
	// client with a 10s timeout.
	HTTPClient *http.Client
	// Clock is the clock for ID token expiry and the state cookie (tests); default the
	// system clock.
	Clock idle.Clock
	// Logger receives refusals and provider failures (never codes, tokens or cookies).
	Logger *slog.Logger
}

// OIDC is an InteractiveAuthenticator: authorization code flow with PKCE (S256),
// state and nonce, against an OpenID provider.
type OIDC struct {
	cfg     OIDCConfig
	now     func() time.Time
	log     *slog.Logger
	client  *http.Client
	state   *session.Codec // seals the state cookie, bound to its name
	secure  bool
	claims  claimNames // which claims carry the identity
	allowed Members    // who may sign in (empty: anyone)

	mu       sync.Mutex
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	oauth    *oauth2.Config

	usedMu sync.Mutex
	used   map[[32]byte]time.Time // states already consumed, until they expire
}

// NewOIDC validates cfg. Discovery is lazy (first login) so the gateway starts while
// the provider is down; call Discover at startup to fail fast on a wrong issuer.
func NewOIDC(cfg OIDCConfig) (*OIDC, error) {
	iss, err := url.Parse(cfg.Issuer)
	if err != nil || (iss.Scheme != "https" && iss.Scheme != "http") || iss.Host == "" {
		return nil, errors.New("oidc: issuer must be an absolute http(s) URL")
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("oidc: client id and client secret are required")
	}
	ru, err := url.Parse(cfg.RedirectURL)
	if err != nil || (ru.Scheme != "https" && ru.Scheme != "http") || ru.Host == "" || ru.Path != OIDCCallbackPath {
		return nil, fmt.Errorf("oidc: redirect URL must be an absolute http(s) URL with path %s", OIDCCallbackPath)
	}
	key := cfg.StateKey
	if key == nil {
		key = make([]byte, session.KeySize)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
	}
	if len(key) != session.KeySize {
		return nil, fmt.Errorf("oidc: state key must be %d bytes", session.KeySize)
	}
	state, err := session.NewCodec(key, OIDCStateCookie)
	if err != nil {
		return nil, err
	}
	if cfg.UserClaim == "" {
		cfg.UserClaim = DefaultOIDCUserClaim
	}
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = DefaultOIDCGroupsClaim
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{"profile", "email"}
	}
	scopes := []string{oidc.ScopeOpenID}
	for _, s := range cfg.Scopes {
		if s = strings.TrimSpace(s); s != "" && s != oidc.ScopeOpenID {
			scopes = append(scopes, s)
		}
	}
	cfg.Scopes = scopes
	o := &OIDC{
		cfg: cfg, now: time.Now, log: cfg.Logger, client: cfg.HTTPClient, state: state,
		secure:  ru.Scheme == "https",
		allowed: Members{Users: cfg.AllowedUsers, Groups: cfg.AllowedGroups},
		used:    map[[32]byte]time.Time{},
		claims:  claimNames{User: cfg.UserClaim, UID: cfg.UIDClaim, GID: cfg.GIDClaim, Groups: cfg.GroupsClaim},
	}
	if cfg.Clock != nil {
		o.now = cfg.Clock.Now
	}
	if o.log == nil {
		o.log = slog.Default()
	}
	if o.client == nil {
		o.client = &http.Client{Timeout: 10 * time.Second}
	}
	return o, nil
}

func (*OIDC) Name() string { return "oidc" }

// LoginPath implements InteractiveAuthenticator.
func (*OIDC) LoginPath(next string) string {
	return OIDCLoginPath + "?next=" + url.QueryEscape(LocalPath(next))
}

// Discover fetches the provider's discovery document (once; retried on failure).
func (o *OIDC) Discover(ctx context.Context) error {
	_, _, _, err := o.setup(ctx)
	return err
}

func (o *OIDC) setup(ctx context.Context) (*oidc.Provider, *oidc.IDTokenVerifier, *oauth2.Config, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, o.verifier, o.oauth, nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, o.client), o.cfg.Issuer)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: oidc discovery: %v", ErrUnavailable, err)
	}
	// The verifier checks signature (provider's JWKS), iss, aud = client id, and exp.
	o.verifier = p.VerifierContext(oidc.ClientContext(context.WithoutCancel(ctx), o.client),
		&oidc.Config{ClientID: o.cfg.ClientID, Now: o.now})
	o.oauth = &oauth2.Config{
		ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret,
		Endpoint: p.Endpoint(), RedirectURL: o.cfg.RedirectURL, Scopes: o.cfg.Scopes,
	}
	o.provider = p
	return o.provider, o.verifier, o.oauth, nil
}

// Handler implements InteractiveAuthenticator: it serves OIDCLoginPath and
// OIDCCallbackPath (mount it at /_codehub/oidc/).
func (o *OIDC) Handler(done SignedIn) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer") // the callback URL carries the code
		switch r.URL.Path {
		case OIDCLoginPath:
			o.login(w, r)
		case OIDCCallbackPath:
			o.callback(w, r, done)
		default:
			http.NotFound(w, r)
		}
	})
}

func (o *OIDC) fail(w http.ResponseWriter, r *http.Request, status int, public string, reason error) {
	o.log.Warn("oidc sign-in refused", "path", r.URL.Path, "status", status, "reason", reason)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintf(w, "Sign-in failed: %s\n\nStart again from the start page.\n", public)
}

func (o *OIDC) login(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		o.fail(w, r, http.StatusMethodNotAllowed, "method not allowed", errors.New("method "+r.Method))
		return
	}
	_, _, oc, err := o.setup(r.Context())
	if err != nil {
		o.fail(w, r, http.StatusServiceUnavailable, "the identity provider is unavailable", err)
		return
	}
	st := oidcState{
		State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(),
		Next: LocalPath(r.URL.Query().Get("next")),
	}
	v, err := o.seal(st, o.now().Add(OIDCStateTTL))
	if err != nil {
		o.fail(w, r, http.StatusInternalServerError, "internal error", err)
		return
	}
	http.SetCookie(w, o.stateCookie(v, int(OIDCStateTTL/time.Second)))
	http.Redirect(w, r, oc.AuthCodeURL(st.State, oauth2.S256ChallengeOption(st.Verifier), oidc.Nonce(st.Nonce)), http.StatusFound)
}

func (o *OIDC) callback(w http.ResponseWriter, r *http.Request, done SignedIn) {
	// The state cookie is single-use: cleared whatever happens next.
	http.SetCookie(w, o.stateCookie("", -1))
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		o.fail(w, r, http.StatusMethodNotAllowed, "method not allowed", errors.New("method "+r.Method))
		return
	}
	q := r.URL.Query()
	c, err := r.Cookie(OIDCStateCookie)
	if err != nil {
		o.fail(w, r, http.StatusBadRequest, "no sign-in in progress (or it took longer than 10 minutes)", errors.New("no state cookie"))
		return
	}
	st, err := o.open(c.Value)
	if err != nil {
		o.fail(w, r, http.StatusBadRequest, "no valid sign-in in progress", err)
		return
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(st.State)) != 1 {
		o.fail(w, r, http.StatusBadRequest, "state mismatch", errors.New("state parameter does not match the state cookie"))
		return
	}
	if e := q.Get("error"); e != "" {
		o.fail(w, r, http.StatusForbidden, "the identity provider refused the sign-in", fmt.Errorf("provider error %.64q", e))
		return
	}
	code := q.Get("code")
	if code == "" || len(code) > 4096 {
		o.fail(w, r, http.StatusBadRequest, "missing code", errors.New("missing or over-long code"))
		return
	}
	if !o.consume(st.State) {
		o.fail(w, r, http.StatusBadRequest, "this sign-in was already used", errors.New("replayed state"))
		return
	}
	_, verifier, oc, err := o.setup(r.Context())
	if err != nil {
		o.fail(w, r, http.StatusServiceUnavailable, "the identity provider is unavailable", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), oauth2.HTTPClient, o.client), 15*time.Second)
	defer cancel()
	tok, err := oc.Exchange(ctx, code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500 {
			o.fail(w, r, http.StatusUnauthorized, "the identity provider refused the code", fmt.Errorf("token endpoint answered %d %.64q", re.Response.StatusCode, re.ErrorCode))
			return
		}
		o.fail(w, r, http.StatusBadGateway, "the identity provider is unavailable", errors.New("token exchange failed"))
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		o.fail(w, r, http.StatusBadGateway, "the identity provider returned no ID token", errors.New("no id_token in token response"))
		return
	}
	idt, err := verifier.Verify(ctx, raw)
	if err != nil {
		o.fail(w, r, http.StatusUnauthorized, "the ID token is not valid", idTokenError(err))
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1 {
		o.fail(w, r, http.StatusUnauthorized, "the ID token is not valid", errors.New("nonce mismatch"))
		return
	}
	if len(idt.Audience) > 1 {
		// Several audiences: OIDC Core 3.1.3.7 wants azp, and it must be us; otherwise
		// a token minted for another client that merely lists us could sign users in.
		var azp struct {
			AZP string `json:"azp"`
		}
		if err := idt.Claims(&azp); err != nil || azp.AZP != o.cfg.ClientID {
			o.fail(w, r, http.StatusUnauthorized, "the ID token is not valid", errors.New("multiple audiences and azp is not this client"))
			return
		}
	}
	id, err := o.identity(idt)
	if err != nil {
		status := http.StatusForbidden
		if errors.Is(err, errBadClaims) {
			status = http.StatusUnauthorized
		}
		o.fail(w, r, status, "you are not allowed to use this service", err)
		return
	}
	o.log.Info("oidc sign-in", "user", id.User)
	done(w, r, id, st.Next)
}

// idTokenError describes a verification failure without echoing the token.
func idTokenError(err error) error {
	var exp *oidc.TokenExpiredError
	if errors.As(err, &exp) {
		return errors.New("id token expired")
	}
	msg := err.Error()
	if i := strings.IndexAny(msg, "\"'"); i >= 0 {
		msg = msg[:i]
	}
	if len(msg) > 120 {
		msg = msg[:120]
	}
	return errors.New(strings.TrimSpace(msg))
}

var (
	errBadClaims  = errors.New("unusable claims")
	errNotAllowed = errors.New("not allowed")
)

// IdentityFromClaims maps verified ID token claims (JSON object) to an identity and
// applies the allow lists; exported for the gateway's tests and tools.
func (o *OIDC) IdentityFromClaims(claims []byte) (identity.Identity, error) {
	var c jsonClaims
	d := json.NewDecoder(bytes.NewReader(claims))
	d.UseNumber()
	if err := d.Decode(&c); err != nil {
		return identity.Identity{}, fmt.Errorf("%w: %v", errBadClaims, err)
	}
	// The user: the configured claim, else a verified email, else sub.
	names := o.claims
	switch {
	case c.str(names.User) != "":
	case c.str("email") != "" && string(c["email_verified"]) == "true":
		names.User = "email"
	case c.str("sub") != "":
		names.User = "sub"
	default:
		return identity.Identity{}, fmt.Errorf("%w: no %s, verified email or sub claim", errBadClaims, o.claims.User)
	}
	id, err := names.identity(c)
	if err != nil {
		return identity.Identity{}, fmt.Errorf("%w: claim %v", errBadClaims, err)
	}

	if !o.allowed.Empty() && !o.allowed.Has(id) {
		return identity.Identity{}, fmt.Errorf("%w: user is neither an allowed user nor in an allowed group", errNotAllowed)
	}
	for name, want := range o.cfg.RequiredClaims {
		if !claimHas(c[name], want) {
			return identity.Identity{}, fmt.Errorf("%w: required claim %s does not match", errNotAllowed, name)
		}
	}
	return id, nil
}

func (o *OIDC) identity(idt *oidc.IDToken) (identity.Identity, error) {
	var raw json.RawMessage
	if err := idt.Claims(&raw); err != nil {
		return identity.Identity{}, fmt.Errorf("%w: %v", errBadClaims, err)
	}
	return o.IdentityFromClaims(raw)
}
