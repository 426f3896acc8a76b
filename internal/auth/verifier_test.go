package auth

import (
	"bufio"
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

// The stand-in platform verifier forward auth is tested against, and the helpers around it.

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
