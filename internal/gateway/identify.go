package gateway

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/codehub-dev/codehub/internal/auth"
	"github.com/codehub-dev/codehub/internal/identity"
)

// identify returns who sent the request: the codehub session first (cheap: one AES-GCM
// open), then the platform credentials the request authenticator reads. Client-sent
// identity headers are never read here; only configured authenticators decide.
func (g *Gateway) identify(r *http.Request) (identity.Identity, error) {
	if _, id, ok := g.currentSession(r); ok {
		return g.withAdmin(id), nil
	}
	if g.cfg.RequestAuth == nil {
		return identity.Identity{}, auth.ErrNoCredentials
	}
	id, err := g.cfg.RequestAuth.Identify(r)
	if err != nil {
		return identity.Identity{}, err
	}
	return g.withAdmin(id), nil
}

// withAdmin is the one admin policy; providers report user, unix ids and groups, never
// admin. An identity is admin when the users file says so for a local account (id.Admin
// as Local and accountIdentity read it), when --admin-users names it or it is in a group
// of --admin-groups. A non-local session keeps the bit decided here at its sign-in (the
// cookie carries no groups): OIDC's admins are decided from the groups its provider
// returned then.
func (g *Gateway) withAdmin(id identity.Identity) identity.Identity {
	id.Admin = id.Admin || auth.Members{Users: g.cfg.AdminUsers, Groups: g.cfg.AdminGroups}.Has(id)
	return id
}

// loginURL is where an unauthenticated page visit goes: the platform's login page when
// the request authenticator has one, else the OIDC flow when there is no form, else the
// gateway's own form.
func (g *Gateway) loginURL(r *http.Request, next string) string {
	if g.cfg.RequestAuth != nil {
		if u := g.cfg.RequestAuth.LoginURL(r, next); u != "" {
			return u
		}
	}
	if g.cfg.Passwords == nil && g.cfg.Interactive != nil {
		return g.cfg.Interactive.LoginPath(next)
	}
	return "/_codehub/login?next=" + url.QueryEscape(next)
}

// refuse answers a request without a usable identity. A provider that is down gets a
// clear 503, never a login redirect (that would loop) and never a sign-in.
func (g *Gateway) refuse(w http.ResponseWriter, r *http.Request, err error) {
	w.Header().Set("Cache-Control", "no-store")
	if errors.Is(err, auth.ErrUnavailable) {
		g.cfg.Logger.Warn("identity provider unavailable", "provider", g.cfg.RequestAuth.Name(), "err", err)
		retryLater(w, r, 10, "Sign-in unavailable",
			"The platform's sign-in service is not answering. This page retries by itself.", "sign-in service unavailable")
		return
	}
	if isNavigation(r) {
		http.Redirect(w, r, g.loginURL(r, safeNext(r.URL.RequestURI())), http.StatusSeeOther)
		return
	}
	http.Error(w, "not signed in", http.StatusUnauthorized)
}
