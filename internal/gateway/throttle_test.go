package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codehub-dev/codehub/internal/auth"
	"github.com/codehub-dev/codehub/internal/identity"
)

// countingPasswords counts the password checks that really ran (real bcrypt underneath).
type countingPasswords struct {
	auth.PasswordAuthenticator
	checks atomic.Int64
	gate   chan struct{} // when set, each check waits for a value
}

func (c *countingPasswords) Authenticate(ctx context.Context, user, pw string) (identity.Identity, error) {
	c.checks.Add(1)
	if c.gate != nil {
		<-c.gate
	}
	return c.PasswordAuthenticator.Authenticate(ctx, user, pw)
}

// throttleFixture trusts the test client's loopback address as a proxy, so each request
// can say which client it is for with X-Forwarded-For.
func throttleFixture(t *testing.T) (*fixture, *countingPasswords) {
	var cp *countingPasswords
	f := newFixtureWith(t, 0, func(c *Config, _ string) {
		cp = &countingPasswords{PasswordAuthenticator: c.Passwords}
		c.Passwords = cp
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	cp.checks.Store(0) // the fixture's own sign-ins
	return f, cp
}

func (f *fixture) signIn(t *testing.T, user, pw, client string) int {
	t.Helper()
	resp, _ := f.doBody(t, "POST", "/_codehub/login", map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": client},
		url.Values{"username": {user}, "password": {pw}}.Encode())
	return resp.StatusCode
}

func TestLoginThrottle(t *testing.T) {
	f, _ := throttleFixture(t)
	for i := 0; i < throttlePerPair; i++ {
		if code := f.signIn(t, "bob", fmt.Sprintf("guess-%d", i), "203.0.113.7"); code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, code)
		}
	}
	// Now even the right password is refused from there for a while: guessing stops.
	if code := f.signIn(t, "bob", "bob-password", "203.0.113.7"); code != http.StatusTooManyRequests {
		t.Fatalf("after %d failures: %d, want 429", throttlePerPair, code)
	}
	f.clock.Advance(throttleWindow)
	if code := f.signIn(t, "bob", "bob-password", "203.0.113.7"); code != http.StatusSeeOther {
		t.Fatalf("after the window: %d", code)
	}
}

// TestConcurrentGuessesCountBeforeChecking: 40 wrong passwords at once for one user from
// one address run exactly the allowed number of password checks; the rest get 429.
func TestConcurrentGuessesCountBeforeChecking(t *testing.T) {
	f, cp := throttleFixture(t)
	cp.gate = make(chan struct{}) // hold every check until all 40 requests have arrived
	var wg sync.WaitGroup
	var throttled atomic.Int64
	codes := make(chan int, 40)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code := f.signIn(t, "root", fmt.Sprintf("guess-%d", i), "198.51.100.1")
			if code == http.StatusTooManyRequests {
				throttled.Add(1)
			}
			codes <- code
		}()
	}
	// 30 refusals come back while the 10 admitted checks are still held at the gate.
	for throttled.Load() < 40-throttlePerPair {
		select {
		case code := <-codes:
			if code != http.StatusTooManyRequests {
				t.Fatalf("an attempt beyond the limit was answered %d before any check ended", code)
			}
		case <-time.After(time.Minute):
			close(cp.gate)
			t.Fatalf("only %d of 40 concurrent guesses were throttled", throttled.Load())
		}
	}
	close(cp.gate)
	wg.Wait()
	if n := cp.checks.Load(); n != throttlePerPair {
		t.Fatalf("%d password checks ran for 40 concurrent guesses, want %d", n, throttlePerPair)
	}
}

// TestSharedAddressLocksOutNoOne: behind one NAT address, a guesser's failures for one name
// do not keep another user — or the same user from elsewhere — from signing in.
func TestSharedAddressLocksOutNoOne(t *testing.T) {
	f, _ := throttleFixture(t)
	const nat = "192.0.2.10"
	for i := 0; i < throttlePerPair; i++ {
		f.signIn(t, "alice", "wrong", nat)
	}
	if code := f.signIn(t, "bob", "bob-password", nat); code != http.StatusSeeOther {
		t.Errorf("bob behind the same NAT: %d", code)
	}
	if code := f.signIn(t, "alice", "alice-password", "192.0.2.99"); code != http.StatusSeeOther {
		t.Errorf("alice from another address: %d", code)
	}
	if code := f.signIn(t, "alice", "alice-password", nat); code != http.StatusTooManyRequests {
		t.Errorf("alice from the guesser's address: %d, want 429", code)
	}
}

func TestThrottleUnknownNamesAndDistributedGuessing(t *testing.T) {
	f, cp := throttleFixture(t)
	for i := 0; i < throttleUnknown; i++ {
		f.signIn(t, fmt.Sprintf("nobody-%d", i), "x", "192.0.2.20")
	}
	before := cp.checks.Load()
	if code := f.signIn(t, "nobody-else", "x", "192.0.2.20"); code != http.StatusTooManyRequests || cp.checks.Load() != before {
		t.Errorf("spraying unknown names: %d, %d more checks", code, cp.checks.Load()-before)
	}
	if code := f.signIn(t, "bob", "bob-password", "192.0.2.20"); code != http.StatusSeeOther {
		t.Errorf("a real user from the sprayer's address: %d", code)
	}
	// A distributed guesser: 5 failures each from 10 addresses reach the per-user bound.
	for a := 0; a < throttlePerUser/5; a++ {
		for i := 0; i < 5; i++ {
			f.signIn(t, "alice", "wrong", fmt.Sprintf("198.18.0.%d", a))
		}
	}
	if code := f.signIn(t, "alice", "alice-password", "198.18.1.1"); code != http.StatusTooManyRequests {
		t.Errorf("after %d failures from many addresses: %d, want 429", throttlePerUser, code)
	}
}

// TestSignInStormLeavesSignedInUsersWorking: 1,000 concurrent bad sign-ins (real bcrypt,
// known and unknown names) run a bounded number of password checks, and a signed-in
// user's requests keep being answered throughout.
func TestSignInStormLeavesSignedInUsersWorking(t *testing.T) {
	f, cp := throttleFixture(t)
	f.be.running["alice"] = true
	var wg sync.WaitGroup
	for i := 0; i < 1000; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := "bob"
			if i%2 == 0 {
				user = fmt.Sprintf("ghost-%d", i)
			}
			f.signIn(t, user, "wrong", "203.0.113.50")
		}()
	}
	for i := 0; i < 20; i++ {
		if resp, body := f.do(t, "GET", "/", map[string]string{"Cookie": f.cookie("alice")}); resp.StatusCode != 200 || body != "workspace:alice" {
			t.Fatalf("signed-in request %d during the storm: %d %q", i, resp.StatusCode, body)
		}
	}
	wg.Wait()
	if n := cp.checks.Load(); n > throttlePerPair+throttleUnknown {
		t.Fatalf("the storm ran %d password checks, want at most %d", n, throttlePerPair+throttleUnknown)
	}
}

func TestHashingIsBounded(t *testing.T) {
	var cp *countingPasswords
	f := newFixtureWith(t, 0, func(c *Config, _ string) {
		cp = &countingPasswords{PasswordAuthenticator: c.Passwords}
		c.Passwords, c.HashSlots = cp, 1
	})
	cp.checks.Store(0) // the fixture's own sign-ins
	cp.gate = make(chan struct{})
	first := make(chan int, 1)
	go func() { first <- f.signIn(t, "alice", "alice-password", "") }()
	for deadline := time.Now().Add(time.Minute); cp.checks.Load() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the first sign-in never reached its password check")
		}
		time.Sleep(time.Millisecond) // waiting on another goroutine's request; no event to wait on
	}
	// The only slot is taken: the next attempt waits hashWait, then gets 429.
	if code := f.signIn(t, "bob", "bob-password", ""); code != http.StatusTooManyRequests {
		t.Fatalf("with every hashing slot busy: %d, want 429", code)
	}
	close(cp.gate)
	if code := <-first; code != http.StatusSeeOther {
		t.Fatalf("the admitted sign-in: %d", code)
	}
}

func TestClientAddrTrustsOnlyProxies(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, c := range []struct{ peer, xff, want string }{
		{"203.0.113.1:5000", "", "203.0.113.1"},
		{"203.0.113.1:5000", "198.51.100.9", "203.0.113.1"}, // untrusted peer: header ignored
		{"10.1.2.3:5000", "198.51.100.9", "198.51.100.9"},
		{"10.1.2.3:5000", "1.2.3.4, 198.51.100.9", "198.51.100.9"},  // rightmost untrusted hop
		{"10.1.2.3:5000", "198.51.100.9, 10.9.9.9", "198.51.100.9"}, // skip trusted hops
		{"10.1.2.3:5000", "not-an-ip", "10.1.2.3"},
		{"[::ffff:10.1.2.3]:5000", "198.51.100.9", "198.51.100.9"},
	} {
		r := httptest.NewRequest("POST", "/", nil)
		r.RemoteAddr = c.peer
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := clientAddr(r, trusted); got != c.want {
			t.Errorf("peer %s XFF %q: %s, want %s", c.peer, c.xff, got, c.want)
		}
	}
}
