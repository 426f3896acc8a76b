// Package audit records who did what to which user or workspace: admin actions and the
// workspace lifecycle (start, stop, idle stop, delete, profile changes), tokens minted and
// revoked. Each event is one structured log line (msg "audit") and stays in a bounded ring
// buffer the admin page lists. The buffer is per gateway process and lost on restart: the
// log lines are the durable trail (ship them like any log); on Kubernetes the operator's
// Events on each Workspace add the phase changes it makes.
package audit

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Outcomes of an event.
const (
	OK      = "ok"
	Failed  = "failed"
	Refused = "refused"
)

// Event is one audited action. Actor is the signed-in user who acted, or "system" for what
// the backend does by itself (idle stops).
type Event struct {
	Time      time.Time
	Actor     string
	Action    string // e.g. "workspace.stop", "user.delete"
	User      string // the target user ("" = none)
	Workspace string // the target workspace ("" = none)
	Outcome   string // OK, Failed or Refused
	Detail    string // why it failed, what was chosen; never a secret
}

// DefaultSize is how many events the ring keeps when New is given 0.
const DefaultSize = 200

// Log is safe for concurrent use.
type Log struct {
	logger *slog.Logger
	clock  func() time.Time

	mu   sync.Mutex
	ring []Event
	next int // where the next event goes
	full bool
}

// New returns a log keeping the last size events (0: DefaultSize) and writing each to
// logger; now stamps events without a time (nil: time.Now).
func New(size int, logger *slog.Logger, now func() time.Time) *Log {
	if size <= 0 {
		size = DefaultSize
	}
	if logger == nil {
		logger = slog.Default()
	}
	if now == nil {
		now = time.Now
	}
	return &Log{logger: logger, clock: now, ring: make([]Event, size)}
}

// Record writes e as a log line and keeps it in the ring.
func (l *Log) Record(e Event) {
	if e.Time.IsZero() {
		e.Time = l.clock()
	}
	if e.Outcome == "" {
		e.Outcome = OK
	}
	level := slog.LevelInfo
	if e.Outcome != OK {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{slog.String("actor", e.Actor), slog.String("action", e.Action), slog.String("outcome", e.Outcome)}
	if e.User != "" {
		attrs = append(attrs, slog.String("target_user", e.User))
	}
	if e.Workspace != "" {
		attrs = append(attrs, slog.String("workspace", e.Workspace))
	}
	if e.Detail != "" {
		attrs = append(attrs, slog.String("detail", e.Detail))
	}
	l.logger.LogAttrs(context.Background(), level, "audit", attrs...)
	l.mu.Lock()
	l.ring[l.next] = e
	l.next = (l.next + 1) % len(l.ring)
	if l.next == 0 {
		l.full = true
	}
	l.mu.Unlock()
}

// Recent returns up to n events, newest first (n <= 0: all kept).
func (l *Log) Recent(n int) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	count := l.next
	if l.full {
		count = len(l.ring)
	}
	if n <= 0 || n > count {
		n = count
	}
	out := make([]Event, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, l.ring[(l.next-i+len(l.ring))%len(l.ring)])
	}
	return out
}
