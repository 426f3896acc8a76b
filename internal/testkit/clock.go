package testkit

import (
	"sync"
	"time"
)

// Clock is a fake clock for the product's one clock convention, idle.Clock (Now() time.Time):
// it stands still until the test moves it, so time-based decisions (idle stops, cache
// expiry, token lifetimes) are tested without waiting. Safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// ClockFunc makes a function an idle.Clock, for a test whose time depends on the call
// (e.g. one time for the first call and another for the rest).
type ClockFunc func() time.Time

// Now returns f().
func (f ClockFunc) Now() time.Time { return f() }
