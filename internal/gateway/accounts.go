package gateway

import (
	"context"
	"time"

	"github.com/codehub-dev/codehub/internal/idle"
)

// Local accounts change outside the gateway (`codehub users add/delete` rewrites the
// users file). Sessions and tokens are checked against the file on every request (see
// accountIdentity); this watcher ends what a check cannot: WebSockets already open, the
// deleted user's running workspace, and tokens left in the tokens file.

// AccountChanges is implemented by Accounts that can list every account with the time
// its credentials last changed (users.Store).
type AccountChanges interface {
	Changes() (map[string]time.Time, error)
}

const accountWatchInterval = time.Second

func (g *Gateway) watchAccounts(ctx context.Context) {
	defer close(g.accountsDone)
	src, ok := g.cfg.Accounts.(AccountChanges)
	if !ok {
		return
	}
	prev, err := src.Changes()
	if err != nil {
		g.cfg.Logger.Warn("read accounts", "err", err)
	}
	idle.Every(ctx, accountWatchInterval, func() {
		next, err := src.Changes()
		if err != nil {
			g.cfg.Logger.Warn("read accounts", "err", err)
			return
		}
		for user, changed := range prev {
			now, exists := next[user]
			switch {
			case !exists:
				g.accountGone(ctx, user)
			case now.After(changed):
				g.accountChanged(user, now)
			}
		}
		prev = next
	})
}

// accountGone ends everything of a deleted local account: its WebSockets, its tokens and
// its running workspaces (files are kept).
func (g *Gateway) accountGone(ctx context.Context, user string) {
	sockets := g.closeUserSockets(user)
	tokens := 0
	if g.cfg.Tokens != nil {
		tokens, _ = g.cfg.Tokens.RevokeUser(user, time.Time{})
	}
	stopCtx, cancel := context.WithTimeout(ctx, time.Minute)
	err := g.stopUserWorkspaces(stopCtx, actorSystem, user, "account deleted")
	cancel()
	g.cfg.Logger.Info("account deleted: signed out", "user", user, "websockets_closed", sockets, "tokens_revoked", tokens, "stop_err", err)
}

// accountChanged ends the live connections and tokens that predate a password or admin
// change (the account's sessions are void from now on anyway).
func (g *Gateway) accountChanged(user string, at time.Time) {
	sockets := g.closeUserSockets(user)
	tokens := 0
	if g.cfg.Tokens != nil {
		tokens, _ = g.cfg.Tokens.RevokeUser(user, at.Truncate(time.Second))
	}
	g.cfg.Logger.Info("account changed: older sessions signed out", "user", user, "websockets_closed", sockets, "tokens_revoked", tokens)
}
