package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/codehub-dev/codehub/internal/backend"
)

// routeTable owns the workspace (backend.Ref) → route map: it alone adds, replaces and removes routes, and
// drop is the one place a removed route's idle upstream connections are closed. Reads on
// the hot path are lock-free (sync.Map).
type routeTable struct {
	m sync.Map // backend.Ref → *route
}

func (t *routeTable) get(ref backend.Ref) (*route, bool) {
	v, ok := t.m.Load(ref)
	if !ok {
		return nil, false
	}
	return v.(*route), true
}

// put returns the route to ws for ref: the stored one while it still proxies to ws, else
// fresh(), stored in place of an outdated one (whose idle connections are closed).
func (t *routeTable) put(ref backend.Ref, ws backend.Workspace, fresh func() *route) *route {
	if rt, ok := t.get(ref); ok && rt.same(ws) {
		return rt
	}
	rt := fresh()
	for {
		v, loaded := t.m.LoadOrStore(ref, rt)
		if !loaded {
			return rt
		}
		old := v.(*route)
		if old.same(ws) {
			return old // a concurrent request stored the same route first
		}
		if t.m.CompareAndSwap(ref, old, rt) {
			old.closeIdle()
			return rt
		}
	}
}

// drop removes ref's route and closes its idle connections; it returns the removed route.
func (t *routeTable) drop(ref backend.Ref) (*route, bool) {
	v, ok := t.m.LoadAndDelete(ref)
	if !ok {
		return nil, false
	}
	rt := v.(*route)
	rt.closeIdle()
	return rt, true
}

// dropStale removes rt only if it is still its workspace's route (a newer one stays), and closes
// rt's idle connections either way.
func (t *routeTable) dropStale(rt *route) {
	t.m.CompareAndDelete(rt.ref, rt)
	rt.closeIdle()
}

// each calls fn for every route until fn returns false.
func (t *routeTable) each(fn func(*route) bool) {
	t.m.Range(func(_, v any) bool { return fn(v.(*route)) })
}

// dropRoute removes the workspace's route and closes its connections with "workspace stopped", so
// open tabs reconnect, are told so, and offer a reload.
func (g *Gateway) dropRoute(ref backend.Ref) {
	rt, ok := g.routes.drop(ref)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	go func() {
		defer cancel()
		g.sockets.closeRoute(ctx, rt, closeWorkspaceStopped)
	}()
}
