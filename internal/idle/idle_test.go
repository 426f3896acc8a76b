package idle

import (
	"context"
	"testing"
	"time"
)

func TestPolicy(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	tests := []struct {
		name        string
		timeout     time.Duration
		last, since time.Time
		now         time.Time
		want        bool
	}{
		{"never when 0", 0, t0, t0, t0.Add(1000 * time.Hour), false},
		{"just active", time.Hour, t0, t0, t0.Add(time.Minute), false},
		{"one ns short", time.Hour, t0, t0, t0.Add(time.Hour - 1), false},
		{"exactly timeout", time.Hour, t0, t0, t0.Add(time.Hour), true},
		{"long idle", time.Hour, t0, t0, t0.Add(5 * time.Hour), true},
		{"no activity: measured from start", time.Hour, time.Time{}, t0, t0.Add(30 * time.Minute), false},
		{"no activity, idle since start", time.Hour, time.Time{}, t0, t0.Add(2 * time.Hour), true},
		{"restarted after old activity", time.Hour, t0, t0.Add(3 * time.Hour), t0.Add(3*time.Hour + time.Minute), false},
	}
	for _, tt := range tests {
		if got := (Policy{Timeout: tt.timeout}).Idle(tt.last, tt.since, tt.now); got != tt.want {
			t.Errorf("%s: Idle = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestActivityMonotonic(t *testing.T) {
	var a Activity
	t0 := time.Unix(1_800_000_000, 0)
	if !a.Last().IsZero() {
		t.Fatal("new activity not zero")
	}
	a.Touch(t0.Add(time.Minute))
	a.Touch(t0) // a late writer with an older timestamp must not move it back
	if got := a.Last(); !got.Equal(t0.Add(time.Minute)) {
		t.Fatalf("Last = %v", got)
	}
}

func TestCheckInterval(t *testing.T) {
	for _, tt := range []struct{ timeout, want time.Duration }{
		{time.Second, time.Second}, {time.Minute, 6 * time.Second}, {time.Hour, 30 * time.Second},
	} {
		if got := (Policy{Timeout: tt.timeout}).CheckInterval(); got != tt.want {
			t.Errorf("CheckInterval(%v) = %v, want %v", tt.timeout, got, tt.want)
		}
	}
}

func TestDeadline(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	cases := []struct {
		name          string
		last, running time.Time
		idle, maxRun  time.Duration
		want          time.Time
		reason        string
	}{
		{"never", t0, t0, 0, 0, time.Time{}, ""},
		{"idle from the last activity", t0.Add(10 * time.Minute), t0, time.Hour, 0, t0.Add(70 * time.Minute), StopIdle},
		{"activity before the start does not count", t0.Add(-time.Hour), t0, time.Hour, 0, t0.Add(time.Hour), StopIdle},
		{"no activity: from the start", time.Time{}, t0, time.Hour, 0, t0.Add(time.Hour), StopIdle},
		{"maximum run time first", t0.Add(5 * time.Hour), t0, time.Hour, 3 * time.Hour, t0.Add(3 * time.Hour), StopMaxRunTime},
		{"idle first", t0.Add(time.Minute), t0, time.Hour, 3 * time.Hour, t0.Add(61 * time.Minute), StopIdle},
		{"maximum run time only", t0.Add(time.Hour), t0, 0, 8 * time.Hour, t0.Add(8 * time.Hour), StopMaxRunTime},
		{"not running", t0, time.Time{}, 0, 8 * time.Hour, time.Time{}, ""},
	}
	for _, c := range cases {
		at, reason := Deadline(c.last, c.running, c.idle, c.maxRun)
		if !at.Equal(c.want) || reason != c.reason {
			t.Errorf("%s: Deadline = %v %q, want %v %q", c.name, at, reason, c.want, c.reason)
		}
	}
}

func TestEveryStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := make(chan struct{}, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		Every(ctx, time.Millisecond, func() { calls <- struct{}{} })
	}()
	for range 3 {
		select {
		case <-calls:
		case <-time.After(10 * time.Second):
			t.Fatal("fn not called every interval")
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Every did not return when its context ended")
	}
}
