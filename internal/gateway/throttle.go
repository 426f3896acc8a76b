package gateway

import (
	"net"
	"strings"
	"sync"
	"time"
)

// loginThrottle slows password guessing: after maxFailures failed sign-ins for one user
// name, or from one client address, within window, further attempts for it are refused
// (429) until the window has passed. Memory is bounded: the oldest keys are dropped.
type loginThrottle struct {
	mu       sync.Mutex
	failures map[string][]time.Time
}

const (
	throttleMaxFailures = 10
	throttleWindow      = 5 * time.Minute
	throttleMaxKeys     = 10000
)

func throttleKeys(user, remoteAddr string) []string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	return []string{"u:" + strings.ToLower(user), "a:" + host}
}

// blocked reports whether any key has too many recent failures.
func (t *loginThrottle) blocked(keys []string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range keys {
		if len(t.recent(k, now)) >= throttleMaxFailures {
			return true
		}
	}
	return false
}

func (t *loginThrottle) fail(keys []string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.failures == nil {
		t.failures = map[string][]time.Time{}
	}
	if len(t.failures) >= throttleMaxKeys {
		for k := range t.failures { // map order is random: drop an arbitrary tenth
			delete(t.failures, k)
			if len(t.failures) < throttleMaxKeys*9/10 {
				break
			}
		}
	}
	for _, k := range keys {
		t.failures[k] = append(t.recent(k, now), now)
	}
}

func (t *loginThrottle) succeed(keys []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.failures, keys[0]) // the user's own counter; the address keeps its history
}

// recent returns k's failures inside the window (callers hold mu).
func (t *loginThrottle) recent(k string, now time.Time) []time.Time {
	list := t.failures[k]
	i := 0
	for i < len(list) && now.Sub(list[i]) >= throttleWindow {
		i++
	}
	if i == len(list) {
		delete(t.failures, k)
		return nil
	}
	return list[i:]
}
