package gateway

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Sign-in throttling. Policy (docs/authentication.md#sign-in-throttling):
//   - a user name from one client address: 10 failures in 5 minutes, then 429 for that
//     pair — the guesser is stopped, other people behind the same NAT are not;
//   - a user name from all addresses: 50 failures in 5 minutes (a distributed guesser);
//     that user's password sign-in then waits out the window — it is delayed, not guessed;
//   - unknown user names from one address: 10 in 5 minutes (spraying and enumeration).
//
// An attempt is counted when it starts, under the lock, so N concurrent guesses count as
// N; a success releases its reservation and clears that pair's failures. Password
// hashing itself is bounded (hashSlots), so a storm of sign-ins cannot starve signed-in
// users of CPU: an attempt that cannot get a slot within hashWait is answered 429.
type loginThrottle struct {
	mu   sync.Mutex
	keys map[string]*attempts
}

type attempts struct {
	failures []time.Time
	inFlight int
}

const (
	throttleWindow   = 5 * time.Minute
	throttlePerPair  = 10
	throttlePerUser  = 50
	throttleUnknown  = 10
	throttleMaxKeys  = 10000
	hashWait         = 2 * time.Second
	maxForwardedHops = 8
)

// ticket is one reserved attempt; exactly one of fail, succeed or cancel ends it.
type ticket struct {
	t    *loginThrottle
	keys []string
}

func (t *loginThrottle) keysFor(user, addr string, known bool) ([]string, []int) {
	if !known {
		return []string{"x:" + addr}, []int{throttleUnknown}
	}
	u := "u:" + user
	return []string{u + "\x00" + addr, u}, []int{throttlePerPair, throttlePerUser}
}

// reserve counts an attempt for user from addr, or refuses it when a limit is reached.
func (t *loginThrottle) reserve(user, addr string, known bool, now time.Time) (*ticket, bool) {
	keys, limits := t.keysFor(user, addr, known)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.keys == nil {
		t.keys = map[string]*attempts{}
	}
	for i, k := range keys {
		if a := t.recent(k, now); a != nil && len(a.failures)+a.inFlight >= limits[i] {
			return nil, false
		}
	}
	if len(t.keys) >= throttleMaxKeys {
		t.evict()
	}
	for _, k := range keys {
		a := t.keys[k]
		if a == nil {
			a = &attempts{}
			t.keys[k] = a
		}
		a.inFlight++
	}
	return &ticket{t: t, keys: keys}, true
}

type outcome int

const (
	failed outcome = iota
	succeeded
	cancelled // never checked (no hashing slot): neither a failure nor a success
)

func (tk *ticket) end(now time.Time, o outcome) {
	t := tk.t
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, k := range tk.keys {
		a := t.keys[k]
		if a == nil {
			continue // evicted meanwhile
		}
		a.inFlight--
		switch {
		case o == failed:
			a.failures = append(a.failures, now)
		case o == succeeded && i == 0 && len(tk.keys) > 1:
			a.failures = nil // a success clears the pair, not the user's other sources
		}
		if len(a.failures) == 0 && a.inFlight == 0 {
			delete(t.keys, k)
		}
	}
}

func (tk *ticket) fail(now time.Time) { tk.end(now, failed) }
func (tk *ticket) succeed()           { tk.end(time.Time{}, succeeded) }
func (tk *ticket) cancel()            { tk.end(time.Time{}, cancelled) }

// recent drops k's failures older than the window (callers hold mu).
func (t *loginThrottle) recent(k string, now time.Time) *attempts {
	a := t.keys[k]
	if a == nil {
		return nil
	}
	i := 0
	for i < len(a.failures) && now.Sub(a.failures[i]) >= throttleWindow {
		i++
	}
	a.failures = a.failures[i:]
	if len(a.failures) == 0 && a.inFlight == 0 {
		delete(t.keys, k)
		return nil
	}
	return a
}

// evict drops an arbitrary tenth of the idle keys (callers hold mu): memory stays bounded
// under a spray of distinct names and addresses.
func (t *loginThrottle) evict() {
	for k, a := range t.keys {
		if a.inFlight == 0 {
			delete(t.keys, k)
		}
		if len(t.keys) < throttleMaxKeys*9/10 {
			return
		}
	}
}

// hashSlots bounds concurrent password checks (bcrypt costs ~50–100 ms of one CPU each).
type hashSlots chan struct{}

func newHashSlots(n int) hashSlots { return make(hashSlots, max(1, n)) }

// acquire waits up to hashWait for a slot.
func (s hashSlots) acquire(ctx context.Context) bool {
	t := time.NewTimer(hashWait)
	defer t.Stop()
	select {
	case s <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

func (s hashSlots) release() { <-s }

// clientAddr is the address a request comes from: the direct peer, or — when the peer is
// a trusted proxy — the last address in X-Forwarded-For that is not a trusted proxy
// itself. A client cannot choose its address by sending the header.
func clientAddr(r *http.Request, trusted []netip.Prefix) string {
	peer := peerAddr(r.RemoteAddr)
	if !peer.IsValid() {
		return r.RemoteAddr
	}
	if !inPrefixes(peer, trusted) {
		return peer.String()
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		for h := range strings.SplitSeq(v, ",") {
			hops = append(hops, strings.TrimSpace(h))
		}
	}
	for i := len(hops) - 1; i >= 0 && i >= len(hops)-maxForwardedHops; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			break
		}
		a = a.Unmap().WithZone("")
		if !inPrefixes(a, trusted) {
			return a.String()
		}
		peer = a
	}
	return peer.String()
}

func peerAddr(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
