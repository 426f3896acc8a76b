package session

import (
	"bytes"
	"encoding/base64"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func ptr(v int64) *int64 { return &v }

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func mustCodec(t *testing.T, key []byte, name string) *Codec {
	t.Helper()
	c, err := NewCodec(key, name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRoundTrip(t *testing.T) {
	c := mustCodec(t, testKey(1), "codehub_session")
	now := time.Unix(1_800_000_000, 0)
	for _, s := range []Session{
		{ID: NewID(), User: "alice", Issued: now, Expires: now.Add(time.Hour)},
		{ID: NewID(), User: "Bob.O'Neil@example.com", Admin: true, Issued: now, Expires: now.Add(12 * time.Hour)},
		{ID: NewID(), User: "ユーザー", Issued: now, Expires: now.Add(time.Minute)},
		{ID: NewID(), User: "carol", Issued: now, Expires: now.Add(time.Minute), UID: ptr(1001), GID: ptr(100)},
		{ID: NewID(), User: "dave", Issued: now, Expires: now.Add(time.Minute), UID: ptr(4242)},
	} {
		v, err := c.Seal(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Open(v, now)
		if err != nil {
			t.Fatalf("open %q: %v", s.User, err)
		}
		if diff := cmp.Diff(s, got); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
}

func TestSealedValuesDiffer(t *testing.T) {
	c := mustCodec(t, testKey(1), "n")
	s := Session{ID: NewID(), User: "alice", Expires: time.Now().Add(time.Hour)}
	a, _ := c.Seal(s)
	b, _ := c.Seal(s)
	if a == b {
		t.Fatal("two seals of one session are identical: nonce reuse")
	}
}

func TestRejects(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := mustCodec(t, testKey(1), "codehub_session")
	good, err := c.Seal(Session{ID: NewID(), User: "alice", Issued: now, Expires: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(good)

	tests := []struct {
		name  string
		codec *Codec
		value string
		at    time.Time
		want  error
	}{
		{"expired", c, good, now.Add(time.Hour), ErrExpired},
		{"long expired", c, good, now.Add(1000 * time.Hour), ErrExpired},
		{"wrong key", mustCodec(t, testKey(2), "codehub_session"), good, now, ErrInvalid},
		{"moved to another cookie name", mustCodec(t, testKey(1), "other"), good, now, ErrInvalid},
		{"empty", c, "", now, ErrMalformed},
		{"not base64", c, "!!!!" + good[4:], now, ErrMalformed},
		{"truncated", c, good[:20], now, ErrMalformed},
		{"last 3 bytes cut", c, good[:len(good)-4], now, ErrInvalid},
		{"huge", c, string(bytes.Repeat([]byte("A"), 10000)), now, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.codec.Open(tt.value, tt.at)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open = %v, want %v", err, tt.want)
			}
		})
	}

	// Flipping any single bit of any byte must be detected.
	for i := range raw {
		for bit := 0; bit < 8; bit++ {
			tampered := bytes.Clone(raw)
			tampered[i] ^= 1 << bit
			if _, err := c.Open(base64.RawURLEncoding.EncodeToString(tampered), now); err == nil {
				t.Fatalf("tampered byte %d bit %d accepted", i, bit)
			}
		}
	}
}

func TestNewCodecKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33} {
		if _, err := NewCodec(make([]byte, n), "x"); err == nil {
			t.Errorf("key of %d bytes accepted", n)
		}
	}
}

func TestRevocationsPersist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "revoked.json")
	r, err := LoadRevocations(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	old, id, other := NewID(), NewID(), NewID()
	if err := r.Revoke(old, now.Add(time.Minute), now); err != nil {
		t.Fatal(err)
	}
	// Revoking later drops entries that expired meanwhile.
	if err := r.Revoke(id, now.Add(3*time.Hour), now.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if !r.Revoked(id) || r.Revoked(other) || r.Revoked(old) {
		t.Fatalf("revoked(id)=%v revoked(other)=%v revoked(old, pruned)=%v", r.Revoked(id), r.Revoked(other), r.Revoked(old))
	}
	again, err := LoadRevocations(path)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Revoked(id) || again.Revoked(other) {
		t.Fatal("revocation not persisted")
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "session.key")
	k1, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k1, k2) || len(k1) != KeySize {
		t.Fatal("key not stable across loads")
	}
	if err := WriteFileAtomic(path, []byte("not hex"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(path); err == nil {
		t.Fatal("malformed key file accepted (would silently sign everyone out if replaced)")
	}
}

func BenchmarkOpen(b *testing.B) {
	c, _ := NewCodec(testKey(1), "codehub_session")
	now := time.Now()
	v, _ := c.Seal(Session{ID: NewID(), User: "alice", Issued: now, Expires: now.Add(time.Hour)})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Open(v, now); err != nil {
			b.Fatal(err)
		}
	}
}
