package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/codehub-dev/codehub/internal/backend"
)

// routeTable owns the user → route map: it alone adds, replaces and removes routes, and
// drop is the one place a removed route's idle upstream connections are closed. Reads on
// the hot path are lock-free (sync.Map).
type routeTable struct {
	m sync.Map // user → *route
}

func (t *routeTable) get(user string) (*route, bool) {
	v, ok := t.m.Load(user)
	if !ok {
		return nil, false
	}
	return v.(*route), true
}

// put returns the route to ws for user: the stored one while it still proxies to ws, else
// fresh(), stored in place of an outdated one (whose idle connections are closed).
func (t *routeTable) put(user string, ws backend.Workspace, fresh func() *route) *route {
	if rt, ok := t.get(user); ok && rt.same(ws) {
		return rt
	}
	rt := fresh()
	for {
		v, loaded := t.m.LoadOrStore(user, rt)
		if !loaded {
			return rt
		}
		old := v.(*route)
		if old.same(ws) {
			return old // a concurrent request stored the same route first
		}
		if t.m.CompareAndSwap(user, old, rt) {
			old.closeIdle()
			return rt
		}
	}
}

// drop removes user's route and closes its idle connections; it returns the removed route.
func (t *routeTable) drop(user string) (*route, bool) {
	v, ok := t.m.LoadAndDelete(user)
	if !ok {
		return nil, false
	}
	rt := v.(*route)
	rt.closeIdle()
	return rt, true
}

// dropStale removes rt only if it is still user's route (a newer one stays), and closes
// rt's idle connections either way.
func (t *routeTable) dropStale(rt *route) {
	t.m.CompareAndDelete(rt.user, rt)
	rt.closeIdle()
}

// each calls fn for every route until fn returns false.
func (t *routeTable) each(fn func(*route) bool) {
	t.m.Range(func(_, v any) bool { return fn(v.(*route)) })
}

// dropRoute removes user's route and closes its connections with "workspace stopped", so
// open tabs reconnect, are told so, and offer a reload.
func (g *Gateway) dropRoute(user string) {
	rt, ok := g.routes.drop(user)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	go func() {
		defer cancel()
		g.sockets.closeRoute(ctx, rt, closeWorkspaceStopped)
	}()
}
