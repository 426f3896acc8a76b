package session

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"
	"time"
)

func TestPayloadRoundTrip(t *testing.T) {
	c := mustCodec(t, testKey(1), "codehub_oidc_state")
	now := time.Unix(1_800_000_000, 0)
	for _, p := range [][]byte{{}, []byte(`{"s":"state","n":"nonce"}`), bytes.Repeat([]byte{0, 0xff}, 500)} {
		v, err := c.SealPayload(p, now.Add(10*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.OpenPayload(v, now)
		if err != nil || !bytes.Equal(got, p) {
			t.Fatalf("OpenPayload = %q, %v; want %q", got, err, p)
		}
	}
	a, _ := c.SealPayload([]byte("x"), now.Add(time.Minute))
	b, _ := c.SealPayload([]byte("x"), now.Add(time.Minute))
	if a == b {
		t.Fatal("two seals of one payload are identical: nonce reuse")
	}
}

func TestPayloadRejects(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := mustCodec(t, testKey(1), "codehub_oidc_state")
	good, err := c.SealPayload([]byte("payload"), now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	sessionCookie, err := c.Seal(Session{ID: NewID(), User: "alice", Issued: now, Expires: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		codec *Codec
		value string
		at    time.Time
		want  error
	}{
		{"expired", c, good, now.Add(time.Minute), ErrExpired},
		{"wrong key", mustCodec(t, testKey(2), "codehub_oidc_state"), good, now, ErrInvalid},
		{"moved to another cookie name", c.WithName("codehub_session"), good, now, ErrInvalid},
		{"a session cookie under the same name", c, sessionCookie, now, ErrMalformed},
		{"empty", c, "", now, ErrMalformed},
		{"not base64", c, "!!!!" + good[4:], now, ErrMalformed},
		{"truncated", c, good[:20], now, ErrMalformed},
		{"huge", c, string(bytes.Repeat([]byte("A"), 10000)), now, ErrMalformed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.codec.OpenPayload(tt.value, tt.at); !errors.Is(err, tt.want) {
				t.Fatalf("OpenPayload = %v, want %v", err, tt.want)
			}
		})
	}
	// Nor does a sealed payload open as a session, under the same name and key.
	if _, err := c.Open(good, now); err == nil {
		t.Fatal("a sealed payload opened as a session")
	}
	// Every single-bit change of the sealed bytes is detected.
	raw, _ := base64.RawURLEncoding.DecodeString(good)
	for n := range 8 * len(raw) {
		tampered := bytes.Clone(raw)
		tampered[n/8] ^= 1 << (n % 8)
		if _, err := c.OpenPayload(base64.RawURLEncoding.EncodeToString(tampered), now); err == nil {
			t.Fatalf("bit %d of %d flipped: accepted", n, 8*len(raw))
		}
	}
}
