package auth

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

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
