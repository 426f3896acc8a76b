package gateway

import (
	"net/http"
	"time"

	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/session"
)

// currentSession returns the request's valid, unrevoked session and who it is.
func (g *Gateway) currentSession(r *http.Request) (session.Session, identity.Identity, bool) {
	value := cookieValue(r, g.cookieName)
	if value == "" {
		return session.Session{}, identity.Identity{}, false
	}
	s, err := g.cfg.Codec.Open(value, g.cfg.Clock.Now())
	if err != nil || g.cfg.Revocations.Revoked(s.ID) {
		return session.Session{}, identity.Identity{}, false
	}
	id, ok := g.accountIdentity(s.Identity(), s.Issued)
	if !ok {
		return session.Session{}, identity.Identity{}, false
	}
	return s, id, true
}

// accountIdentity applies the users file to a local account's identity: void when the
// account no longer exists or its credentials changed after issued (a password change,
// a deletion, a change of admin rights), and admin as the file says now — never as the
// cookie or token said. Other identities pass as they are.
func (g *Gateway) accountIdentity(id identity.Identity, issued time.Time) (identity.Identity, bool) {
	if !id.Local {
		return id, true
	}
	if g.cfg.Accounts == nil {
		return identity.Identity{}, false
	}
	admin, changed, ok := g.cfg.Accounts.Account(id.User)
	if !ok || issued.Before(changed.Truncate(time.Second)) {
		return identity.Identity{}, false
	}
	id.Admin = admin
	return id, true
}

// isAccount reports whether user is a local account now.
func (g *Gateway) isAccount(user string) bool {
	if g.cfg.Accounts == nil {
		return false
	}
	_, _, ok := g.cfg.Accounts.Account(user)
	return ok
}

// cookieValue finds one cookie without parsing (and allocating) every cookie.
func cookieValue(r *http.Request, name string) string {
	for _, line := range r.Header["Cookie"] {
		for len(line) > 0 {
			var part string
			if i := indexByte(line, ';'); i >= 0 {
				part, line = line[:i], line[i+1:]
			} else {
				part, line = line, ""
			}
			part = trimSpace(part)
			if len(part) > len(name) && part[len(name)] == '=' && part[:len(name)] == name {
				return part[len(name)+1:]
			}
		}
	}
	return ""
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func trimSpace(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// issueSession signs id in and sets the cookie.
func (g *Gateway) issueSession(w http.ResponseWriter, id identity.Identity) error {
	s := session.For(id, g.cfg.Clock.Now(), g.cfg.SessionTTL)
	value, err := g.cfg.Codec.Seal(s)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: g.cookieName, Value: value, Path: "/", Expires: s.Expires, MaxAge: int(g.cfg.SessionTTL / time.Second),
		HttpOnly: true, Secure: g.cfg.Secure, SameSite: http.SameSiteLaxMode,
	})
	return nil
}

func (g *Gateway) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: g.cookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: g.cfg.Secure, SameSite: http.SameSiteLaxMode,
	})
}
