package auth

import (
	"container/list"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/idle"
)

// Cache defaults.
const (
	DefaultCacheTTL        = 30 * time.Second
	DefaultCacheMaxEntries = 10000
)

// CacheConfig configures a VerifyCache.
type CacheConfig struct {
	// TTL is how long a successful verification is reused (default 30s). A revoked
	// platform session keeps working for at most this long. Negative disables caching
	// (every request is a round trip; identical concurrent misses are still coalesced).
	TTL time.Duration
	// NegativeTTL is how long a refusal (ErrBadCredentials) is reused. 0, the default,
	// means refusals are not cached: a user who just signed in on the platform is never
	// told "no" from a stale entry. Provider failures (ErrUnavailable) are never cached.
	NegativeTTL time.Duration
	// MaxEntries bounds the cache (default 10000); when full the oldest entry goes.
	MaxEntries int
	// Clock is the clock (tests inject one); default the system clock.
	Clock idle.Clock
}

// CacheKey is the cache's key: an HMAC-SHA-256 of the credential material under a
// random per-cache key. The raw credential is never stored, compared or logged, and a
// memory dump of the cache cannot be used to test guessed cookies offline.
type CacheKey [sha256.Size]byte

// Verified is what a successful verification yields.
type Verified struct {
	Identity identity.Identity
	// SessionKey is an opaque platform secret passed through from the verifier's answer
	// (Iguazio's X-V3io-Session-Key), empty unless configured. It never prints or logs.
	SessionKey Secret
}

func (v Verified) clone() Verified {
	v.Identity.Groups = slices.Clone(v.Identity.Groups)
	if v.Identity.UID != nil {
		u := *v.Identity.UID
		v.Identity.UID = &u
	}
	if v.Identity.GID != nil {
		g := *v.Identity.GID
		v.Identity.GID = &g
	}
	return v
}

// VerifyCache remembers verification results for a short time and coalesces
// concurrent identical verifications into one round trip. Safe for concurrent use.
type VerifyCache struct {
	ttl, negTTL time.Duration
	max         int
	now         func() time.Time
	hmacKey     [32]byte

	mu       sync.Mutex
	entries  map[CacheKey]*list.Element // of *cacheEntry
	order    *list.List                 // oldest insertion first
	inflight map[CacheKey]*flight
}

type cacheEntry struct {
	key     CacheKey
	v       Verified
	err     error // nil or ErrBadCredentials
	expires time.Time
}

type flight struct {
	done chan struct{}
	v    Verified
	err  error
}

// NewVerifyCache returns an empty cache.
func NewVerifyCache(cfg CacheConfig) *VerifyCache {
	c := &VerifyCache{
		ttl:      cfg.TTL,
		negTTL:   cfg.NegativeTTL,
		max:      cfg.MaxEntries,
		now:      time.Now,
		entries:  map[CacheKey]*list.Element{},
		order:    list.New(),
		inflight: map[CacheKey]*flight{},
	}
	if c.ttl == 0 {
		c.ttl = DefaultCacheTTL
	}
	if c.max <= 0 {
		c.max = DefaultCacheMaxEntries
	}
	if cfg.Clock != nil {
		c.now = cfg.Clock.Now
	}
	if _, err := rand.Read(c.hmacKey[:]); err != nil {
		panic(err)
	}
	return c
}

// Key derives the cache key of credential material given as name/value parts (for
// example "Cookie", "session=..."). Parts are length-prefixed so they cannot run into
// each other.
func (c *VerifyCache) Key(parts ...string) CacheKey {
	m := hmac.New(sha256.New, c.hmacKey[:])
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		m.Write(n[:])
		m.Write([]byte(p))
	}
	var k CacheKey
	m.Sum(k[:0])
	return k
}

// Len is the number of cached results (expired ones included until evicted).
func (c *VerifyCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Purge drops every cached result (e.g. on a configuration reload).
func (c *VerifyCache) Purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
	c.order.Init()
}

// Do returns the cached result for key, or runs verify once for all concurrent callers
// with the same key and caches its result: successes for TTL, ErrBadCredentials for
// NegativeTTL, anything else never. verify runs with a context detached from any one
// caller's cancellation (it must bound itself, e.g. with a timeout); each caller stops
// waiting when its own ctx ends.
func (c *VerifyCache) Do(ctx context.Context, key CacheKey, verify func(context.Context) (Verified, error)) (Verified, error) {
	c.mu.Lock()
	if el, ok := c.entries[key]; ok {
		e := el.Value.(*cacheEntry)
		if c.now().Before(e.expires) {
			v, err := e.v.clone(), e.err
			c.mu.Unlock()
			return v, err
		}
		c.order.Remove(el)
		delete(c.entries, key)
	}
	f, ok := c.inflight[key]
	if !ok {
		f = &flight{done: make(chan struct{})}
		c.inflight[key] = f
		go c.run(context.WithoutCancel(ctx), key, f, verify)
	}
	c.mu.Unlock()

	select {
	case <-f.done:
		return f.v.clone(), f.err
	case <-ctx.Done():
		return Verified{}, errors.Join(ErrUnavailable, ctx.Err())
	}
}

func (c *VerifyCache) run(ctx context.Context, key CacheKey, f *flight, verify func(context.Context) (Verified, error)) {
	defer close(f.done)
	v, err := func() (v Verified, err error) {
		defer func() {
			if p := recover(); p != nil {
				v, err = Verified{}, errors.Join(ErrUnavailable, errors.New("verification panicked"))
			}
		}()
		return verify(ctx)
	}()
	f.v, f.err = v, err

	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.inflight, key)
	var ttl time.Duration
	switch {
	case err == nil && v.Identity.User != "":
		ttl = c.ttl
	case errors.Is(err, ErrBadCredentials) && !errors.Is(err, ErrUnavailable):
		ttl = c.negTTL
	}
	if ttl <= 0 {
		return
	}
	if el, ok := c.entries[key]; ok {
		c.order.Remove(el)
	}
	for len(c.entries) >= c.max {
		oldest := c.order.Front()
		if oldest == nil {
			break
		}
		delete(c.entries, oldest.Value.(*cacheEntry).key)
		c.order.Remove(oldest)
	}
	c.entries[key] = c.order.PushBack(&cacheEntry{key: key, v: v.clone(), err: err, expires: c.now().Add(ttl)})
}
