package auth

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codehub-dev/codehub/internal/testkit"
)

// Forward auth's verification cache, end to end through Forward: what is reused, for how
// long, what never is, and that concurrent misses are one round trip.

func TestForwardRevocationWithinTTL(t *testing.T) {
	v := newVerifier(t)
	clk := testkit.NewClock(time.Unix(1_800_000_000, 0))
	f := mustForward(t, ForwardConfig{URL: v.srv.URL, Cache: CacheConfig{TTL: 30 * time.Second, Clock: clk}})
	steps := []struct {
		advance time.Duration
		revoke  bool
		user    string
		err     error
		hits    int64
	}{
		{0, false, "alice", nil, 1},
		{10 * time.Second, false, "alice", nil, 1}, // cached
		{0, true, "alice", nil, 1},                 // revoked on the platform, still cached
		{15 * time.Second, false, "alice", nil, 1}, // 25s: within TTL
		{6 * time.Second, false, "", ErrBadCredentials, 2},
		{time.Second, false, "", ErrBadCredentials, 3}, // refusals are not cached by default
	}
	for i, s := range steps {
		clk.Advance(s.advance)
		if s.revoke {
			v.revoke(aliceCookie)
		}
		got, err := f.Verify(sessionRequest(aliceCookie))
		if (s.err == nil && (err != nil || got.Identity.User != s.user)) || (s.err != nil && !errors.Is(err, s.err)) {
			t.Fatalf("step %d: got (%q, %v), want (%q, %v)", i, got.Identity.User, err, s.user, s.err)
		}
		if v.hits.Load() != s.hits {
			t.Fatalf("step %d: hits = %d, want %d", i, v.hits.Load(), s.hits)
		}
	}
}

func TestForwardNegativeTTLAndUnavailableNotCached(t *testing.T) {
	v := newVerifier(t)
	clk := testkit.NewClock(time.Unix(1_800_000_000, 0))
	f := mustForward(t, ForwardConfig{URL: v.srv.URL, Cache: CacheConfig{NegativeTTL: 5 * time.Second, Clock: clk}})
	for range 3 {
		if _, err := f.Verify(sessionRequest("bad")); !errors.Is(err, ErrBadCredentials) {
			t.Fatal(err)
		}
	}
	if v.hits.Load() != 1 {
		t.Fatalf("negative result not cached: hits = %d", v.hits.Load())
	}
	clk.Advance(6 * time.Second)
	f.Verify(sessionRequest("bad"))
	if v.hits.Load() != 2 {
		t.Fatalf("negative TTL not honoured: hits = %d", v.hits.Load())
	}

	// A verifier outage is never cached: the next request asks again and signs in.
	v.hits.Store(0)
	v.set(func() { v.status = 503 })
	if _, err := f.Verify(sessionRequest(aliceCookie)); !errors.Is(err, ErrUnavailable) {
		t.Fatal(err)
	}
	v.set(func() { v.status = 0 })
	got, err := f.Verify(sessionRequest(aliceCookie))
	if err != nil || got.Identity.User != "alice" || v.hits.Load() != 2 {
		t.Fatalf("after outage: (%q, %v), hits %d", got.Identity.User, err, v.hits.Load())
	}
}

func TestForwardCoalescesConcurrentMisses(t *testing.T) {
	v := newVerifier(t)
	v.set(func() { v.delay = 300 * time.Millisecond })
	f := mustForward(t, ForwardConfig{URL: v.srv.URL})
	const n = 32
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range 2 * n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cookie, want := aliceCookie, "alice"
			if i%2 == 1 {
				cookie, want = bobCookie, "bob"
			}
			got, err := f.Identify(sessionRequest(cookie))
			if err != nil || got.User != want {
				errs <- fmt.Errorf("got (%q, %v), want %q", got.User, err, want)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if v.hits.Load() != 2 {
		t.Fatalf("%d concurrent requests for 2 sessions made %d round trips, want 2", 2*n, v.hits.Load())
	}
}

func TestForwardCacheKeyedByHashAndBounded(t *testing.T) {
	log, logs := testLogger()
	v := newVerifier(t)
	secrets := []string{aliceCookie, bobCookie}
	for i := range 3 {
		c := fmt.Sprintf("extra-session-%d-abcdef", i)
		v.set(func() { v.sessions[c] = fmt.Sprintf("user%d", i) })
		secrets = append(secrets, c)
	}
	f := mustForward(t, ForwardConfig{URL: v.srv.URL, Logger: log, Cache: CacheConfig{MaxEntries: 3}})
	for _, c := range secrets {
		if _, err := f.Identify(sessionRequest(c)); err != nil {
			t.Fatal(err)
		}
	}
	c := f.Cache()
	c.mu.Lock()
	n := len(c.entries)
	for k, el := range c.entries {
		e := el.Value.(*cacheEntry)
		for _, s := range secrets {
			plain := sha256.Sum256([]byte(s))
			cookieHeader := sha256.Sum256([]byte("session=" + s))
			if bytes.Contains(k[:], []byte(s)) || k == plain || k == cookieHeader {
				t.Errorf("cache key derived from raw credential without a secret key")
			}
			if strings.Contains(fmt.Sprintf("%+v", e), s) {
				t.Errorf("cache entry holds the raw credential")
			}
		}
	}
	c.mu.Unlock()
	if n != 3 {
		t.Fatalf("cache holds %d entries, want 3 (bounded)", n)
	}
	// The oldest (alice) was evicted: asking again is a round trip; the newest is not.
	before := v.hits.Load()
	f.Identify(sessionRequest(secrets[len(secrets)-1]))
	if v.hits.Load() != before {
		t.Errorf("newest entry was evicted")
	}
	f.Identify(sessionRequest(aliceCookie))
	if v.hits.Load() != before+1 {
		t.Errorf("oldest entry was not evicted")
	}
	assertNoSecrets(t, logs.String(), secrets...)
}
