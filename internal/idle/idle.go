// Package idle decides when a workspace has been unused long enough to stop.
package idle

import (
	"context"
	"sync/atomic"
	"time"
)

// Clock is injected so idle decisions are testable without waiting. It is the product's one
// clock convention: a component that reads the time holds a Clock (SystemClock when none is
// given; tests pass a testkit.Clock), and pure functions it calls take the time as a now
// parameter.
type Clock interface{ Now() time.Time }

// SystemClock is the real wall clock.
type SystemClock struct{}

func (SystemClock) Now() time.Time { return time.Now() }

// Activity is the time of the last request or WebSocket frame of one workspace. It is
// updated on the proxy's hot path, so it is a single atomic word.
type Activity struct{ last atomic.Int64 }

// Touch records activity at t. Older times never move the mark back.
func (a *Activity) Touch(t time.Time) {
	n := t.UnixNano()
	for {
		old := a.last.Load()
		if n <= old || a.last.CompareAndSwap(old, n) {
			return
		}
	}
}

// Last returns the last recorded activity (zero time if none).
func (a *Activity) Last() time.Time {
	n := a.last.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// Policy is the idle-stop rule: Timeout 0 means never stop.
type Policy struct{ Timeout time.Duration }

// Idle reports whether a workspace last active at last is idle at now. A workspace with
// no recorded activity is measured from since (when it started).
func (p Policy) Idle(last, since, now time.Time) bool {
	if p.Timeout <= 0 {
		return false
	}
	if last.Before(since) {
		last = since
	}
	return now.Sub(last) >= p.Timeout
}

// CheckInterval is how often to look for idle workspaces: often enough that a workspace
// stops within ~10% of its timeout, never busier than once a second.
func (p Policy) CheckInterval() time.Duration {
	iv := p.Timeout / 10
	if iv < time.Second {
		iv = time.Second
	}
	if iv > 30*time.Second {
		iv = 30 * time.Second
	}
	return iv
}

// Why a running workspace is stopped.
const (
	StopIdle       = "idle"         // last activity + idle timeout
	StopMaxRunTime = "max-run-time" // a maximum lifetime, busy or not
)

// Deadline is when a running workspace is stopped and why, from its one stored activity
// mark (last), the time it became running, the idle timeout and the maximum run time (0 =
// none); zero when never. Activity before the workspace became running does not count.
func Deadline(last, running time.Time, idleTimeout, maxRunTime time.Duration) (time.Time, string) {
	var at time.Time
	reason := ""
	if idleTimeout > 0 {
		from := last
		if from.Before(running) {
			from = running
		}
		if !from.IsZero() {
			at, reason = from.Add(idleTimeout), StopIdle
		}
	}
	if maxRunTime > 0 && !running.IsZero() {
		if end := running.Add(maxRunTime); at.IsZero() || end.Before(at) {
			at, reason = end, StopMaxRunTime
		}
	}
	return at, reason
}

// Every calls fn every d until ctx is done (the first call one d from now); the periodic
// loops of the gateway and the local backend share it.
func Every(ctx context.Context, d time.Duration, fn func()) {
	tick := time.NewTicker(d)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			fn()
		}
	}
}
