// Package auth turns credentials into identities. One provider per file, behind small
// interfaces:
//   - PasswordAuthenticator: the gateway's sign-in form (local users);
//   - RequestAuthenticator: credentials the platform puts on every request (a platform
//     session verified by an auth-url endpoint, an identity header from a trusted proxy);
//   - InteractiveAuthenticator: a browser sign-in flow (OIDC) that ends in a codehub session.
//
// What the providers share is built once: claims.go parses users, unix ids and groups
// from headers or ID token claims; provider.go holds the login-URL template, the one
// local-redirect validator (LocalPath), the one list of identity headers
// (IdentityHeaders) and the users-or-groups rule (Members). Providers report user,
// unix ids and groups; who is an admin is the gateway's decision.
package auth

import (
	"context"
	"errors"
	"net/http"

	"github.com/codehub-dev/codehub/internal/identity"
)

var (
	// ErrBadCredentials is the only error a caller shows to the user on a failed sign-in,
	// so it never reveals whether the user name exists.
	ErrBadCredentials = errors.New("wrong user name or password")
	// ErrNoCredentials means the request carries nothing this authenticator reads.
	ErrNoCredentials = errors.New("no credentials")
	// ErrUnavailable wraps failures of the identity provider itself (down, slow,
	// malformed answer). The gateway answers 503 and never signs anyone in on it.
	ErrUnavailable = errors.New("identity provider unavailable")
)

// PasswordAuthenticator verifies a user name and password (the sign-in form).
type PasswordAuthenticator interface {
	Name() string
	Authenticate(ctx context.Context, user, password string) (identity.Identity, error)
	// Exists reports whether user is an account (no password check): the sign-in
	// throttle counts attempts on unknown names apart.
	Exists(user string) bool
}

// RequestAuthenticator identifies a request from the credentials it carries.
// Identify returns ErrNoCredentials when there are none, ErrBadCredentials (possibly
// wrapped) when they are refused, and an error wrapping ErrUnavailable when the
// provider cannot answer. It must never trust identity headers sent by the client
// unless the provider's configuration says exactly whom to trust.
type RequestAuthenticator interface {
	Name() string
	Identify(r *http.Request) (identity.Identity, error)
	// LoginURL is where a browser without valid credentials is sent (the platform's
	// login page); "" means the gateway's own sign-in page. next is a local path.
	LoginURL(r *http.Request, next string) string
}

// SignedIn is called by an InteractiveAuthenticator when a browser sign-in succeeded:
// the gateway issues its session cookie and redirects to next (already validated as a
// local path by the gateway).
type SignedIn func(w http.ResponseWriter, r *http.Request, id identity.Identity, next string)

// InteractiveAuthenticator runs a browser sign-in flow under the gateway's reserved
// prefix (for OIDC: /_codehub/oidc/login and /_codehub/oidc/callback).
type InteractiveAuthenticator interface {
	Name() string
	// Handler serves the flow's paths; it calls done on success and renders its own
	// plain error page (never a redirect loop) on failure.
	Handler(done SignedIn) http.Handler
	// LoginPath is the gateway path that starts the flow for next.
	LoginPath(next string) string
}
