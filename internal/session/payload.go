package session

import (
	"encoding/base64"
	"encoding/binary"
	"time"
)

const (
	// payloadVersion marks a sealed payload. Session cookies start with formatVersion,
	// so neither opens as the other, even under one name.
	payloadVersion = 2
	// version(1) expires(8) payload(rest)
	payloadHeaderLen = 1 + 8
)

// SealPayload seals an opaque payload (a sign-in flow's state, for one) with the
// codec's key and name, valid until expires. The client can neither read nor change it.
func (c *Codec) SealPayload(payload []byte, expires time.Time) (string, error) {
	plain := make([]byte, payloadHeaderLen, payloadHeaderLen+len(payload))
	plain[0] = payloadVersion
	binary.BigEndian.PutUint64(plain[1:], uint64(expires.Unix()))
	return c.seal(append(plain, payload...))
}

// OpenPayload authenticates and decrypts a value made by SealPayload with this key and
// name and checks its expiry against now. Errors: ErrMalformed (not such a value),
// ErrInvalid (another key or name, or tampered with), ErrExpired.
func (c *Codec) OpenPayload(value string, now time.Time) ([]byte, error) {
	if len(value) > maxCookie {
		return nil, ErrMalformed
	}
	b, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(b) < nonceLen+c.aead.Overhead() {
		return nil, ErrMalformed
	}
	plain, err := c.aead.Open(b[nonceLen:nonceLen], b[:nonceLen], b[nonceLen:], c.aad)
	if err != nil {
		return nil, ErrInvalid
	}
	if len(plain) < payloadHeaderLen || plain[0] != payloadVersion {
		return nil, ErrMalformed
	}
	if !now.Before(time.Unix(int64(binary.BigEndian.Uint64(plain[1:])), 0)) {
		return nil, ErrExpired
	}
	return plain[payloadHeaderLen:], nil
}
