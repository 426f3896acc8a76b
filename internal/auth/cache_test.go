package auth

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/testkit"
)

func TestVerifyCacheOutcomes(t *testing.T) {
	clk := testkit.NewClock(time.Unix(1_800_000_000, 0))
	ok := func(context.Context) (Verified, error) {
		return Verified{Identity: identity.Identity{User: "alice"}}, nil
	}
	cases := []struct {
		name     string
		cfg      CacheConfig
		verify   func(context.Context) (Verified, error)
		advance  time.Duration
		wantRuns int32 // after two calls separated by advance
		wantErr  error
	}{
		{"success cached", CacheConfig{}, ok, 29 * time.Second, 1, nil},
		{"success expires at TTL", CacheConfig{}, ok, 30 * time.Second, 2, nil},
		{"custom TTL", CacheConfig{TTL: 5 * time.Second}, ok, 6 * time.Second, 2, nil},
		{"caching disabled", CacheConfig{TTL: -1}, ok, 0, 2, nil},
		{"refusal not cached by default", CacheConfig{}, func(context.Context) (Verified, error) { return Verified{}, ErrBadCredentials }, 0, 2, ErrBadCredentials},
		{"refusal cached with NegativeTTL", CacheConfig{NegativeTTL: time.Second}, func(context.Context) (Verified, error) { return Verified{}, ErrBadCredentials }, 0, 1, ErrBadCredentials},
		{"unavailable never cached", CacheConfig{NegativeTTL: time.Hour}, func(context.Context) (Verified, error) {
			return Verified{}, errors.Join(ErrUnavailable, errors.New("down"))
		}, 0, 2, ErrUnavailable},
		{"success with empty user never cached", CacheConfig{}, func(context.Context) (Verified, error) { return Verified{}, nil }, 0, 2, nil},
		{"panic is unavailable, not cached", CacheConfig{}, func(context.Context) (Verified, error) { panic("boom") }, 0, 2, ErrUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Clock = clk
			c := NewVerifyCache(tc.cfg)
			var runs atomic.Int32
			verify := func(ctx context.Context) (Verified, error) { runs.Add(1); return tc.verify(ctx) }
			k := c.Key("Cookie", "session=x")
			for i := range 2 {
				if i == 1 {
					clk.Advance(tc.advance)
				}
				_, err := c.Do(t.Context(), k, verify)
				if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
					t.Fatalf("call %d: err = %v, want %v", i, err, tc.wantErr)
				}
			}
			if runs.Load() != tc.wantRuns {
				t.Fatalf("verify ran %d times, want %d", runs.Load(), tc.wantRuns)
			}
		})
	}
}

func TestVerifyCacheKeys(t *testing.T) {
	c := NewVerifyCache(CacheConfig{})
	if c.Key("a", "bc") == c.Key("ab", "c") || c.Key("Cookie", "x") == c.Key("Authorization", "x") {
		t.Error("distinct credential material maps to one key")
	}
	if k1, k2 := c.Key("Cookie", "x"), c.Key("Cookie", "x"); k1 != k2 {
		t.Error("key not deterministic")
	}
	if NewVerifyCache(CacheConfig{}).Key("Cookie", "x") == c.Key("Cookie", "x") {
		t.Error("keys do not depend on the per-cache secret")
	}
}

func TestVerifyCacheWaiterCancel(t *testing.T) {
	c := NewVerifyCache(CacheConfig{})
	release := make(chan struct{})
	var runs atomic.Int32
	verify := func(ctx context.Context) (Verified, error) {
		runs.Add(1)
		<-release
		if ctx.Err() != nil {
			return Verified{}, ctx.Err()
		}
		return Verified{Identity: identity.Identity{User: "alice"}}, nil
	}
	k := c.Key("x")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { _, err := c.Do(ctx, k, verify); done <- err }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if err := <-done; !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v", err)
	}
	// The verification itself was not cancelled with the first caller: a second caller
	// joins it and gets its result.
	go func() { time.Sleep(20 * time.Millisecond); close(release) }()
	v, err := c.Do(t.Context(), k, verify)
	if err != nil || v.Identity.User != "alice" || runs.Load() != 1 {
		t.Fatalf("second caller: (%q, %v), runs %d", v.Identity.User, err, runs.Load())
	}
	// Returned identities are copies: changing one does not change the cache.
	v.Identity.Groups = append(v.Identity.Groups, "admins")
	v2, _ := c.Do(t.Context(), k, verify)
	if len(v2.Identity.Groups) != 0 {
		t.Fatal("cached identity shared with a caller")
	}
}
