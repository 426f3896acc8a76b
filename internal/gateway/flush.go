package gateway

import (
	"context"
	"time"

	"github.com/codehub-dev/codehub/internal/backend"
)

// The gateway never stops a workspace for being idle: the backend does (local: the backend
// itself; Kubernetes: the operator, from status.lastActivityTime), from the one activity
// mark it stores. The gateway hands it what people do, off the hot path: each route's
// activity (an atomic word the proxy touches) is flushed every ActivityFlush.

const defaultActivityFlush = 5 * time.Second

// flushLoop flushes activity until ctx ends.
func (g *Gateway) flushLoop(ctx context.Context) {
	defer close(g.flushDone)
	if _, ok := g.cfg.Backend.(backend.ActivityRecorder); !ok {
		<-ctx.Done()
		return
	}
	tick := time.NewTicker(g.cfg.ActivityFlush)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			g.FlushActivity(context.WithoutCancel(ctx))
			return
		case <-tick.C:
			g.FlushActivity(ctx)
		}
	}
}

// FlushActivity hands the backend every route's activity newer than what it last handed
// over. The flush loop calls it; tests call it directly.
func (g *Gateway) FlushActivity(ctx context.Context) {
	rec, ok := g.cfg.Backend.(backend.ActivityRecorder)
	if !ok {
		return
	}
	g.flushMu.Lock()
	defer g.flushMu.Unlock()
	g.routes.each(func(rt *route) bool {
		last := rt.activity.Last()
		if last.IsZero() || !last.After(rt.flushed) {
			return true
		}
		if err := rec.RecordActivity(ctx, rt.ref, last); err != nil {
			g.cfg.Logger.Warn("record activity", "workspace", rt.ref.String(), "err", err)
			return true
		}
		rt.flushed = last
		return true
	})
}

// recordNow stores activity of a workspace at once (the extension's "Keep running",
// a busy report from inside the workspace): on any replica, with or without a route.
func (g *Gateway) recordNow(ctx context.Context, ref backend.Ref) error {
	now := g.cfg.Clock.Now()
	if rt, ok := g.routes.get(ref); ok {
		rt.activity.Touch(now)
	}
	if rec, ok := g.cfg.Backend.(backend.ActivityRecorder); ok {
		return rec.RecordActivity(ctx, ref, now)
	}
	return nil
}

// workspaceStopped is the backend's notice that it is stopping a workspace by itself
// (idle, maximum run time): the route goes, and the open tabs' connections are closed, so
// their workbenches reconnect, are told the workspace stopped, and offer a reload.
func (g *Gateway) workspaceStopped(ref backend.Ref, reason string) {
	g.dropRoute(ref)
	if reason == "" {
		return // stopped elsewhere, and counted and recorded there
	}
	if reason == backend.StopIdle {
		g.cfg.Metrics.IdleStops.Inc()
	}
	g.record(actorSystem, "workspace.stop", ref, "by the backend: "+reason, nil)
}
