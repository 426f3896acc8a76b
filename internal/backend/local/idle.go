package local

import (
	"context"
	"slices"
	"time"

	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/idle"
	"github.com/codehub-dev/codehub/internal/procstat"
	"github.com/codehub-dev/codehub/internal/profile"
)

// DefaultBusyCPU is the CPU use (in cores, averaged over one check interval) of a
// workspace's processes above which it counts as busy: a training job or a notebook kernel
// executing keeps it running. An untouched workbench with one tab uses about a tenth of
// this (docs/idle.md); one busy thread uses 1.0.
const DefaultBusyCPU = 0.25

// The local backend owns the stops of its workspaces: every workspace it runs, whether a
// browser opened it or the API/CLI started it, is stopped after IdleTimeout without
// activity (the gateway records what people do through RecordActivity; CPU use above
// BusyCPU counts as activity too), or after MaxRunTime however busy it is.

// RecordActivity marks activity at at on a running workspace (in memory; the one
// value the idle stop and the API read).
func (b *Backend) RecordActivity(_ context.Context, ref backend.Ref, at time.Time) error {
	b.mu.Lock()
	inst := b.ws[ref.FullName()]
	b.mu.Unlock()
	if inst != nil {
		inst.activity.Touch(at)
	}
	return nil
}

// NotifyStops registers fn, called before the backend stops a workspace by itself (idle,
// maximum run time).
func (b *Backend) NotifyStops(fn func(ref backend.Ref, reason string)) {
	b.mu.Lock()
	b.onStop = append(b.onStop, fn)
	b.mu.Unlock()
}

// checkInterval is how often the backend looks for idle workspaces and samples CPU.
func (c *Config) checkInterval() time.Duration {
	if c.CheckInterval > 0 {
		return c.CheckInterval
	}
	t := c.IdleTimeout
	for _, p := range c.Profiles.All() {
		if d := p.Idle(); d > 0 && (t <= 0 || d < t) {
			t = d // a profile's shorter idle timeout is checked as often as it needs
		}
	}
	if c.MaxRunTime > 0 && (t <= 0 || c.MaxRunTime < t) {
		t = c.MaxRunTime
	}
	if t <= 0 {
		return 30 * time.Second
	}
	return idle.Policy{Timeout: t}.CheckInterval()
}

// watch stops workspaces at their deadline until ctx ends.
func (b *Backend) watch(ctx context.Context) {
	defer close(b.watchDone)
	if b.cfg.IdleTimeout <= 0 && b.cfg.MaxRunTime <= 0 && !slices.ContainsFunc(b.cfg.Profiles.All(), func(p profile.Profile) bool { return p.Idle() > 0 }) {
		return
	}
	idle.Every(ctx, b.cfg.checkInterval(), func() { b.checkStops(ctx) })
}

// checkStops samples every running workspace's CPU (busy work is activity) and stops the
// ones whose deadline has passed.
func (b *Backend) checkStops(ctx context.Context) {
	b.mu.Lock()
	running := make([]*instance, 0, len(b.ws))
	for _, inst := range b.ws {
		if inst.snapshot().State == backend.StateRunning {
			running = append(running, inst)
		}
	}
	b.mu.Unlock()
	if len(running) == 0 {
		return
	}
	var all []procstat.Proc
	if b.cfg.BusyCPU > 0 {
		all = procstat.Scan()
	}
	now := b.cfg.Clock.Now()
	for _, inst := range running {
		if b.cfg.BusyCPU > 0 {
			procs := inst.processes(all)
			inst.mu.Lock()
			cores, ok := inst.meter.Sample(procs, time.Now())
			inst.mu.Unlock()
			if ok && cores >= b.cfg.BusyCPU {
				inst.activity.Touch(now)
				b.cfg.Logger.Debug("workspace busy", "workspace", inst.name, "cpu_cores", cores)
			}
		}
		ws := inst.snapshot()
		if ws.StopsAt.IsZero() || now.Before(ws.StopsAt) {
			continue
		}
		b.cfg.Logger.Info("stop deadline reached", "workspace", inst.name, "reason", ws.StopReason,
			"last_activity", ws.LastActivity.Format(time.RFC3339), "late", now.Sub(ws.StopsAt).Round(time.Millisecond))
		// Stopping first: a tab reconnecting after the notice must find it stopping, not
		// a running workspace to route to again.
		inst.markStopping()
		b.mu.Lock()
		fns := append([]func(backend.Ref, string){}, b.onStop...)
		b.mu.Unlock()
		for _, fn := range fns {
			fn(ws.Ref(), ws.StopReason)
		}
		go func() {
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if err := inst.stop(stopCtx); err != nil {
				b.cfg.Logger.Error("stop workspace", "workspace", inst.name, "err", err)
			}
		}()
	}
}

// processes are the workspace's processes in all: everything its unix user runs (uid
// mode: terminals and jobs that left code-server's tree count too), else code-server's
// process tree.
func (in *instance) processes(all []procstat.Proc) []procstat.Proc {
	in.mu.Lock()
	cred, proc := in.cred, in.proc
	in.mu.Unlock()
	if cred != nil {
		return procstat.OfUID(all, int(cred.Uid))
	}
	if proc == nil {
		return nil
	}
	return procstat.Tree(all, proc.Pid)
}
