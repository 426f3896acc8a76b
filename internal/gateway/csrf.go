package gateway

import (
	"crypto/subtle"
	"net/http"
	"time"

	"github.com/codehub-dev/codehub/internal/identity"
)

// Every state-changing form of the gateway's pages carries a CSRF token in a hidden field,
// on top of http.CrossOriginProtection in front of everything: a request that got past the
// origin check (an old browser without Sec-Fetch-Site or Origin, a same-site sibling host)
// still cannot act without a token only a page of this session was given. The token is the
// session id sealed with the session key under its own name ("csrf"), so it opens for this
// session only, cannot be forged, and dies with the session. A platform identity without a
// codehub session (forward auth, trusted header) binds it to the user name for 12 hours.

const csrfField = "csrf"

// csrfTTL bounds a token bound to a platform identity (a session's ends with the session).
const csrfTTL = 12 * time.Hour

// csrfBinding is what a token is bound to for r: its session id, else its platform user.
func (g *Gateway) csrfBinding(r *http.Request, id identity.Identity) ([]byte, time.Time) {
	if s, _, ok := g.currentSession(r); ok {
		return append([]byte("s:"), s.ID[:]...), s.Expires
	}
	return []byte("u:" + id.User), g.cfg.Clock.Now().Add(csrfTTL)
}

// csrfToken returns a fresh token for the forms of a page rendered for id ("" on error,
// which makes the form fail closed).
func (g *Gateway) csrfToken(r *http.Request, id identity.Identity) string {
	bind, expires := g.csrfBinding(r, id)
	tok, err := g.handoffs.codec(g.cfg.Codec, "csrf", "").SealPayload(bind, expires)
	if err != nil {
		return ""
	}
	return tok
}

// checkCSRF reports whether the parsed form's token belongs to r's session (or user); it
// answers 403 itself when not.
func (g *Gateway) checkCSRF(w http.ResponseWriter, r *http.Request, id identity.Identity) bool {
	got, err := g.handoffs.codec(g.cfg.Codec, "csrf", "").OpenPayload(r.PostForm.Get(csrfField), g.cfg.Clock.Now())
	want, _ := g.csrfBinding(r, id)
	if err == nil && subtle.ConstantTimeCompare(got, want) == 1 {
		return true
	}
	g.cfg.Logger.Warn("form without a valid CSRF token", "user", id.User, "path", r.URL.Path)
	render(w, http.StatusForbidden, "error.html", pageData{Title: "Form expired",
		Message: "This form is from another session or expired. Go back, reload the page and try again."})
	return false
}

// formIdentity authenticates a state-changing form post: the caller, its parsed form and a
// valid CSRF token. It answers the request itself when any is missing.
func (g *Gateway) formIdentity(w http.ResponseWriter, r *http.Request) (identity.Identity, bool) {
	id, err := g.identify(r)
	if err != nil {
		g.refuse(w, r, err)
		return id, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		render(w, http.StatusBadRequest, "error.html", pageData{Title: "Bad form", Message: "The form could not be read."})
		return id, false
	}
	return id, g.checkCSRF(w, r, id)
}
