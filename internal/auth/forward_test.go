package auth

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codehub-dev/codehub/internal/testkit"
)

// Secret values used across the tests; none may ever appear in a log.
const (
	aliceCookie = "alice-session-9f8e7d6c5b4a"
	bobCookie   = "bob-session-0a1b2c3d4e5f"
	aliceBearer = "Bearer alice-token-3141592653"
	v3ioKey     = "v3io-session-key-2718281828"
)

func testLogger() (*slog.Logger, *testkit.Buffer) {
	buf := &testkit.Buffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

func assertNoSecrets(t *testing.T, logs string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("log contains secret %q:\n%s", s, logs)
		}
	}
}

// verifier is a real HTTP verification endpoint: it knows sessions by the "session"
// cookie or by bearer token and answers like Iguazio's app_service verification.
type verifier struct {
	mu       sync.Mutex
	sessions map[string]string // cookie value or Authorization value -> user
	delay    time.Duration
	status   int // if non-zero, answer this status for everything
	hits     atomic.Int64
	seen     []http.Header
	srv      *httptest.Server
}

func newVerifier(t *testing.T) *verifier {
	v := &verifier{sessions: map[string]string{aliceCookie: "alice", bobCookie: "bob", aliceBearer: "alice"}}
	v.srv = httptest.NewServer(http.HandlerFunc(v.serve))
	t.Cleanup(v.srv.Close)
	return v
}

func (v *verifier) serve(w http.ResponseWriter, r *http.Request) {
	v.hits.Add(1)
	v.mu.Lock()
	v.seen = append(v.seen, r.Header.Clone())
	delay, status := v.delay, v.status
	user := ""
	if c, err := r.Cookie("session"); err == nil {
		user = v.sessions[c.Value]
	}
	if a := r.Header.Get("Authorization"); user == "" && a != "" {
		user = v.sessions[a]
	}
	v.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	if status != 0 {
		w.WriteHeader(status)
		return
	}
	if user == "" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	w.Header().Set("X-Remote-User", user)
	w.Header().Set("X-Unix-Uid", "1001")
	w.Header().Set("X-User-Id", "5f1e0c1a-7d0b-4a2b-9c3d-1e2f3a4b5c6d")
	w.Header().Set("X-User-Group-Ids", "engineering, admins")
	w.Header().Set("X-V3io-Session-Key", v3ioKey)
	w.WriteHeader(http.StatusOK)
}

func (v *verifier) set(f func()) {
	v.mu.Lock()
	defer v.mu.Unlock()
	f()
}

func (v *verifier) revoke(cred string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.sessions, cred)
}

func (v *verifier) seenHeaders() []http.Header {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.seen
}

// rawVerifier is a real TCP server answering every request with the given status line
// and header lines verbatim, so tests can send bytes net/http's server would clean up.
func rawVerifier(t *testing.T, head string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				req.Body.Close()
				fmt.Fprintf(c, "%s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", head)
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/api/data_sessions/verifications/app_service"
}

func sessionRequest(cookie string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "https://codehub.example.com/user/alice/?folder=/home&reconnectionToken=rt-secret-1618", nil)
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: "session", Value: cookie})
	}
	return r
}

func mustForward(t *testing.T, cfg ForwardConfig) *Forward {
	t.Helper()
	f, err := NewForward(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestForwardHostileTable(t *testing.T) {
	log, logs := testLogger()
	v := newVerifier(t)

	type want struct {
		user string
		err  error // nil, ErrNoCredentials, ErrBadCredentials, ErrUnavailable
		hits int64 // verifier round trips (-1: don't check)
	}
	cases := []struct {
		name string
		cfg  func(*ForwardConfig)
		req  func() *http.Request
		want want
	}{
		{"valid cookie", nil, func() *http.Request { return sessionRequest(aliceCookie) }, want{"alice", nil, 1}},
		{"valid bearer", nil, func() *http.Request {
			r := sessionRequest("")
			r.Header.Set("Authorization", aliceBearer)
			return r
		}, want{"alice", nil, 1}},
		{"unknown session", nil, func() *http.Request { return sessionRequest("forged-session-value") }, want{"", ErrBadCredentials, 1}},
		{"no credentials", nil, func() *http.Request { return sessionRequest("") }, want{"", ErrNoCredentials, 0}},
		{"client X-Remote-User without credentials", nil, func() *http.Request {
			r := sessionRequest("")
			r.Header.Set("X-Remote-User", "admin")
			r.Header.Set("X-Unix-Uid", "0")
			r.Header.Set("X-User-Group-Ids", "admins")
			return r
		}, want{"", ErrNoCredentials, 0}},
		{"client X-Remote-User with bob's session", nil, func() *http.Request {
			r := sessionRequest(bobCookie)
			r.Header.Set("X-Remote-User", "alice")
			r.Header.Set("X-Forwarded-User", "alice")
			return r
		}, want{"bob", nil, 1}},
		{"codehub's own cookies only", nil, func() *http.Request {
			r := sessionRequest("")
			r.AddCookie(&http.Cookie{Name: "codehub_session", Value: "codehub-own-session-secret"})
			r.AddCookie(&http.Cookie{Name: "__Host-codehub_ws", Value: "codehub-own-session-secret"})
			return r
		}, want{"", ErrNoCredentials, 0}},
		{"codehub cookie beside platform session", nil, func() *http.Request {
			r := sessionRequest(aliceCookie)
			r.AddCookie(&http.Cookie{Name: "__Host-codehub_session", Value: "codehub-own-session-secret"})
			return r
		}, want{"alice", nil, 1}},
		{"codehub API token", nil, func() *http.Request {
			r := sessionRequest("")
			r.Header.Set("Authorization", "Bearer chub_codehub-own-token-secret")
			return r
		}, want{"", ErrNoCredentials, 0}},
		{"only other cookies when session cookie named", func(c *ForwardConfig) { c.Cookies = []string{"session"} }, func() *http.Request {
			r := sessionRequest("")
			r.AddCookie(&http.Cookie{Name: "tracking", Value: "xyz"})
			return r
		}, want{"", ErrNoCredentials, 0}},
		{"named cookie among others", func(c *ForwardConfig) { c.Cookies = []string{"session"} }, func() *http.Request {
			r := sessionRequest(aliceCookie)
			r.AddCookie(&http.Cookie{Name: "tracking", Value: "xyz"})
			return r
		}, want{"alice", nil, 1}},
		{"wrong method configured", func(c *ForwardConfig) { c.Method = "GET" }, func() *http.Request { return sessionRequest(aliceCookie) }, want{"", ErrUnavailable, 1}},
		{"slow verifier", func(c *ForwardConfig) { c.Timeout = 150 * time.Millisecond }, func() *http.Request {
			v.mu.Lock()
			v.delay = time.Second
			v.mu.Unlock()
			return sessionRequest(aliceCookie)
		}, want{"", ErrUnavailable, 1}},
		{"verifier 500", nil, func() *http.Request { v.set(func() { v.status = 500 }); return sessionRequest(aliceCookie) }, want{"", ErrUnavailable, 1}},
		{"verifier 502", nil, func() *http.Request { v.set(func() { v.status = 502 }); return sessionRequest(aliceCookie) }, want{"", ErrUnavailable, 1}},
		{"verifier 302 (not followed)", nil, func() *http.Request { v.set(func() { v.status = 302 }); return sessionRequest(aliceCookie) }, want{"", ErrUnavailable, 1}},
		{"verifier 404", nil, func() *http.Request { v.set(func() { v.status = 404 }); return sessionRequest(aliceCookie) }, want{"", ErrUnavailable, 1}},
		{"verifier 403", nil, func() *http.Request { v.set(func() { v.status = 403 }); return sessionRequest(aliceCookie) }, want{"", ErrBadCredentials, 1}},
		{"verifier 2xx without user", nil, func() *http.Request { v.set(func() { v.status = 204 }); return sessionRequest(aliceCookie) }, want{"", ErrUnavailable, 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v.mu.Lock()
			v.delay, v.status, v.seen = 0, 0, nil
			v.mu.Unlock()
			v.hits.Store(0)
			cfg := ForwardConfig{URL: v.srv.URL + "/api/data_sessions/verifications/app_service", Logger: log, SessionKeyHeader: "X-V3io-Session-Key"}
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			f := mustForward(t, cfg)
			r := tc.req()
			got, err := f.Verify(r)
			checkOutcome(t, got, err, tc.want.user, tc.want.err)
			if tc.want.hits >= 0 && v.hits.Load() != tc.want.hits {
				t.Errorf("verifier hits = %d, want %d", v.hits.Load(), tc.want.hits)
			}
			for _, h := range v.seenHeaders() {
				for _, name := range []string{"X-Remote-User", "X-Forwarded-User", "X-Unix-Uid", "X-User-Group-Ids"} {
					if h.Get(name) != "" {
						t.Errorf("client header %s was forwarded to the verifier", name)
					}
				}
				if h.Get("X-Original-Uri") != "/user/alice/" || h.Get("X-Original-Method") != "GET" {
					t.Errorf("X-Original-* = %q %q", h.Get("X-Original-Uri"), h.Get("X-Original-Method"))
				}
				for name, vals := range h {
					if strings.Contains(strings.Join(vals, " "), "rt-secret") {
						t.Errorf("query secret forwarded to the verifier in %s", name)
					}
				}
				if strings.Contains(h.Get("Cookie")+h.Get("Authorization"), "codehub-own") {
					t.Errorf("codehub's own credential forwarded to the platform: %q %q", h.Get("Cookie"), h.Get("Authorization"))
				}
				if strings.Contains(h.Get("Cookie"), "tracking") && len(cfg.Cookies) > 0 {
					t.Errorf("unnamed cookie forwarded: %q", h.Get("Cookie"))
				}
			}
			if err == nil {
				if got.Identity.UID == nil || *got.Identity.UID != 1001 {
					t.Errorf("uid = %v", got.Identity.UID)
				}
				if strings.Join(got.Identity.Groups, "|") != "engineering|admins" {
					t.Errorf("groups = %q", got.Identity.Groups)
				}
				if got.SessionKey.Reveal() != v3ioKey {
					t.Errorf("session key not passed through")
				}
				for _, s := range []string{fmt.Sprint(got), fmt.Sprintf("%+v", got), fmt.Sprintf("%#v", got)} {
					if strings.Contains(s, v3ioKey) {
						t.Errorf("formatting Verified reveals the session key: %s", s)
					}
				}
			}
		})
	}

	t.Run("down", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		f := mustForward(t, ForwardConfig{URL: "http://" + addr + "/verify", Logger: log})
		got, err := f.Verify(sessionRequest(aliceCookie))
		checkOutcome(t, got, err, "", ErrUnavailable)
	})
	assertNoSecrets(t, logs.String(), aliceCookie, bobCookie, aliceBearer, strings.TrimPrefix(aliceBearer, "Bearer "), v3ioKey, "forged-session-value", "codehub-own", "rt-secret-1618")
}

func checkOutcome(t *testing.T, got Verified, err error, user string, wantErr error) {
	t.Helper()
	if wantErr == nil {
		if err != nil || got.Identity.User != user {
			t.Fatalf("got (%q, %v), want (%q, nil)", got.Identity.User, err, user)
		}
		return
	}
	if !errors.Is(err, wantErr) {
		t.Fatalf("err = %v, want %v", err, wantErr)
	}
	if got.Identity.User != "" || !got.SessionKey.IsZero() {
		t.Fatalf("failure returned an identity: %q", got.Identity.User)
	}
	if wantErr != ErrBadCredentials && errors.Is(err, ErrBadCredentials) {
		t.Fatalf("err %v also claims bad credentials", err)
	}
	if wantErr != ErrUnavailable && errors.Is(err, ErrUnavailable) {
		t.Fatalf("err %v also claims unavailable", err)
	}
}

func TestForwardMalformedAnswers(t *testing.T) {
	log, logs := testLogger()
	long := strings.Repeat("a", 10<<10)
	cases := []struct{ name, head string }{
		{"missing user", "HTTP/1.1 200 OK"},
		{"empty user", "HTTP/1.1 200 OK\r\nX-Remote-User: "},
		{"blank user", "HTTP/1.1 200 OK\r\nX-Remote-User:    \t "},
		{"control char in user", "HTTP/1.1 200 OK\r\nX-Remote-User: ali\x01ce"},
		{"DEL in user", "HTTP/1.1 200 OK\r\nX-Remote-User: alice\x7f"},
		{"C1 control in user", "HTTP/1.1 200 OK\r\nX-Remote-User: alice\u0085"},
		{"bidi override in user", "HTTP/1.1 200 OK\r\nX-Remote-User: alice\u202egpj.exe"},
		{"invalid utf-8 user", "HTTP/1.1 200 OK\r\nX-Remote-User: alice\xff"},
		{"space in user", "HTTP/1.1 200 OK\r\nX-Remote-User: alice admin"},
		{"folded header", "HTTP/1.1 200 OK\r\nX-Remote-User: alice\r\n admin"},
		{"10KB user", "HTTP/1.1 200 OK\r\nX-Remote-User: " + long},
		{"repeated user", "HTTP/1.1 200 OK\r\nX-Remote-User: alice\r\nX-Remote-User: admin"},
		{"non-numeric uid", "HTTP/1.1 200 OK\r\nX-Remote-User: alice\r\nX-Unix-Uid: abc"},
		{"negative uid", "HTTP/1.1 200 OK\r\nX-Remote-User: alice\r\nX-Unix-Uid: -1"},
		{"root uid", "HTTP/1.1 200 OK\r\nX-Remote-User: alice\r\nX-Unix-Uid: 0"},
		{"huge uid", "HTTP/1.1 200 OK\r\nX-Remote-User: alice\r\nX-Unix-Uid: 99999999999999999999"},
		{"uid with exponent", "HTTP/1.1 200 OK\r\nX-Remote-User: alice\r\nX-Unix-Uid: 1e3"},
		{"uid with sign", "HTTP/1.1 200 OK\r\nX-Remote-User: alice\r\nX-Unix-Uid: +1001"},
		{"empty uid", "HTTP/1.1 200 OK\r\nX-Remote-User: alice\r\nX-Unix-Uid: "},
		{"uid (-1) sentinel", "HTTP/1.1 200 OK\r\nX-Remote-User: alice\r\nX-Unix-Uid: 4294967295"},
		{"over-long group", "HTTP/1.1 200 OK\r\nX-Remote-User: alice\r\nX-User-Group-Ids: " + strings.Repeat("g", 300)},
		{"control char in groups", "HTTP/1.1 200 OK\r\nX-Remote-User: alice\r\nX-User-Group-Ids: a,b\x02"},
		{"10KB groups", "HTTP/1.1 200 OK\r\nX-Remote-User: alice\r\nX-User-Group-Ids: " + strings.Repeat("g,", 5<<10)},
		{"repeated session key", "HTTP/1.1 200 OK\r\nX-Remote-User: alice\r\nX-V3io-Session-Key: a\r\nX-V3io-Session-Key: b"},
		{"garbage status line", "HTTP/1.1 2OO OK\r\nX-Remote-User: alice"},
		{"not HTTP", "SSH-2.0-OpenSSH_9.6\r\nX-Remote-User: alice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := rawVerifier(t, tc.head)
			f := mustForward(t, ForwardConfig{URL: u, Logger: log, SessionKeyHeader: "X-V3io-Session-Key"})
			got, err := f.Verify(sessionRequest(aliceCookie))
			checkOutcome(t, got, err, "", ErrUnavailable)
			if f.Cache().Len() != 0 {
				t.Errorf("malformed answer was cached")
			}
		})
	}
	// Sanity: the same raw server does sign in with a well-formed answer.
	u := rawVerifier(t, "HTTP/1.1 200 OK\r\nX-Remote-User:  alice \r\nX-Unix-Uid: 1001\r\nX-User-Group-Ids: a, ,b")
	f := mustForward(t, ForwardConfig{URL: u, Logger: log})
	got, err := f.Verify(sessionRequest(aliceCookie))
	checkOutcome(t, got, err, "alice", nil)
	// Admin is the gateway's policy (here --admin-groups b), from the groups reported.
	if !(Members{Groups: []string{"b"}}).Has(got.Identity) || got.Identity.Admin || len(got.Identity.Groups) != 2 {
		t.Errorf("identity = %+v", got.Identity)
	}
	assertNoSecrets(t, logs.String(), aliceCookie)
}

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

func TestNewForwardRefusesForwardingIdentityHeaders(t *testing.T) {
	for _, h := range []string{"X-Remote-User", "x-remote-user", "X-Unix-Uid", "X-User-Group-Ids", "X-V3io-Session-Key", "X-My-User"} {
		_, err := NewForward(ForwardConfig{URL: "https://dashboard.example.com/verify", Headers: []string{h}, UserHeader: "X-My-User"})
		if err == nil {
			t.Errorf("forwarding %s accepted", h)
		}
	}
	for _, u := range []string{"", "dashboard.example.com/verify", "ftp://x/y", "https://user:pw@x/y", "/relative"} {
		if _, err := NewForward(ForwardConfig{URL: u}); err == nil {
			t.Errorf("URL %q accepted", u)
		}
	}
}

func TestForwardLoginURL(t *testing.T) {
	f := mustForward(t, ForwardConfig{URL: "https://dashboard.example.com/verify", LoginURL: "https://dashboard.example.com/login?rd={url}&p={path}", PublicURL: "https://codehub.example.com/ignored"})
	r := sessionRequest("")
	r.Host = "evil.example.net"
	cases := map[string]string{
		"/user/alice/?a=b":     "https://dashboard.example.com/login?rd=https%3A%2F%2Fcodehub.example.com%2Fuser%2Falice%2F%3Fa%3Db&p=%2Fuser%2Falice%2F%3Fa%3Db",
		"//evil.example":       "https://dashboard.example.com/login?rd=https%3A%2F%2Fcodehub.example.com%2F&p=%2F",
		"/\\evil.example":      "https://dashboard.example.com/login?rd=https%3A%2F%2Fcodehub.example.com%2F&p=%2F",
		"https://evil.example": "https://dashboard.example.com/login?rd=https%3A%2F%2Fcodehub.example.com%2F&p=%2F",
		"/a\r\nSet-Cookie: x":  "https://dashboard.example.com/login?rd=https%3A%2F%2Fcodehub.example.com%2F&p=%2F",
	}
	for next, want := range cases {
		if got := f.LoginURL(r, next); got != want {
			t.Errorf("LoginURL(%q) = %q, want %q", next, got, want)
		}
	}
	if got := mustForward(t, ForwardConfig{URL: "https://d/v"}).LoginURL(r, "/"); got != "" {
		t.Errorf("no login URL configured: got %q", got)
	}
}
