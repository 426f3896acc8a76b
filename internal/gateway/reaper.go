package gateway

import (
	"context"
	"time"

	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/idle"
)

// reap stops workspaces that have been idle for the configured timeout. The route is
// removed first, so requests racing with the stop see a stopped workspace (and a page
// visit wakes it again) instead of a half-dead proxy.
func (g *Gateway) reap(ctx context.Context) {
	defer close(g.reaperDone)
	policy := idle.Policy{Timeout: g.cfg.IdleTimeout}
	recorder, records := g.cfg.Backend.(backend.ActivityRecorder)
	if policy.Timeout <= 0 && !records {
		<-ctx.Done()
		return
	}
	interval := 30 * time.Second
	if policy.Timeout > 0 {
		interval = policy.CheckInterval()
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if policy.Timeout > 0 {
				g.ReapIdle(ctx)
			}
			if records {
				g.recordActivity(ctx, recorder)
			}
		}
	}
}

// recordActivity hands each route's last activity to a backend that persists it (the
// kubernetes backend writes Workspace status at a bounded rate), off the hot path.
func (g *Gateway) recordActivity(ctx context.Context, rec backend.ActivityRecorder) {
	g.routes.Range(func(_, v any) bool {
		rt := v.(*route)
		if last := rt.activity.Last(); !last.IsZero() {
			if err := rec.RecordActivity(ctx, rt.user, last); err != nil {
				g.cfg.Logger.Warn("record activity", "user", rt.user, "err", err)
			}
		}
		return true
	})
}

// ReapIdle stops every workspace idle at the clock's current time and returns the
// users whose workspaces it stopped. The reaper calls it periodically; tests call it
// directly with an injected clock.
func (g *Gateway) ReapIdle(ctx context.Context) []string {
	policy := idle.Policy{Timeout: g.cfg.IdleTimeout}
	now := g.cfg.Clock.Now()
	var stopped []string
	g.routes.Range(func(k, v any) bool {
		rt := v.(*route)
		if !policy.Idle(rt.activity.Last(), rt.since, now) {
			return true
		}
		if !g.routes.CompareAndDelete(k, v) {
			return true
		}
		rt.closeIdle()
		stopCtx, cancel := context.WithTimeout(ctx, time.Minute)
		err := g.cfg.Backend.Stop(stopCtx, rt.user)
		cancel()
		if err != nil {
			g.cfg.Logger.Error("idle stop", "user", rt.user, "err", err)
			return true
		}
		g.cfg.Metrics.IdleStops.Inc()
		g.cfg.Logger.Info("stopped idle workspace", "user", rt.user, "idle_for", now.Sub(rt.activity.Last()).Round(time.Second))
		stopped = append(stopped, rt.user)
		return true
	})
	return stopped
}
