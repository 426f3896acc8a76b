package testkit

import (
	"testing"
	"time"
)

// Named deadlines for Eventually. A test says how long a thing may take by its kind, not
// by a number picked on the spot, so a slow CI machine is accommodated in one place.
const (
	// WaitShort: in-process work (a goroutine, a local HTTP round trip, a file write).
	WaitShort = 10 * time.Second
	// WaitMedium: a real process starting (code-server, a built binary) or a controller
	// reconciling a handful of objects.
	WaitMedium = 30 * time.Second
	// WaitLong: the controller converging after a manager start or restart, many objects.
	WaitLong = time.Minute
)

// PollInterval is how often Eventually asks again: short next to every deadline above,
// long enough not to starve the two-core CI machine.
const PollInterval = 50 * time.Millisecond

// Eventually polls cond until it returns nil or within has passed; then it fails the
// test with the last error. Polling with a deadline, never sleeping a guessed time, is
// how tests wait for another goroutine or process.
func Eventually(t testing.TB, within time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true after %s: %v", what, within, err)
		}
		time.Sleep(PollInterval)
	}
}
