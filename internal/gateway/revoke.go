package gateway

import (
	"net/http"
)

// socketOwner names the session behind a WebSocket upgrade (the main host's cookie, or a
// content host's own), so signing that session out closes the socket. Called for upgrades
// only: it opens the cookie a second time rather than threading it through every handler.
func (g *Gateway) socketOwner(r *http.Request, user string) socketOwner {
	o := socketOwner{user: user}
	if s, _, ok := g.currentSession(r); ok {
		o.session = s.ID
		return o
	}
	if label, ok := g.hostLabel(r.Host); ok && label != "" {
		if s, ok := g.wsSession(r, label); ok {
			o.session = s.ID
		}
	}
	return o
}

// closeSessionSockets closes the WebSockets a session opened, with "signed out".
func (g *Gateway) closeSessionSockets(id [16]byte) int {
	return g.sockets.closeWhere(func(o socketOwner) bool { return o.session == id }, closeSignedOut)
}

// closeUserSockets closes every WebSocket into user's workspace, with "signed out" (the
// account was deleted or its credentials changed).
func (g *Gateway) closeUserSockets(user string) int {
	return g.sockets.closeWhere(func(o socketOwner) bool { return o.user == user }, closeSignedOut)
}
