// Package session encodes sessions into encrypted, authenticated cookies (AES-256-GCM)
// and remembers revoked sessions so logout takes effect even for copied cookies.
package session

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/codehub-dev/codehub/internal/identity"
)

// KeySize is the length of a session key: AES-256.
const KeySize = 32

// Session is what a cookie carries. Everything in it is encrypted and authenticated,
// so the client can neither read nor change it.
type Session struct {
	ID      [16]byte // random; the handle for revocation
	User    string   // exact user name
	Admin   bool     // the provider said admin at sign-in (ignored for Local sessions)
	Local   bool     // a local account: the users file decides, on every request
	UID     *int64   // unix ids from the identity provider, when it gave them
	GID     *int64
	Issued  time.Time // when the user signed in
	Expires time.Time // after this the cookie is rejected, whatever the browser does
}

var (
	ErrMalformed = errors.New("session: malformed cookie")
	ErrInvalid   = errors.New("session: cookie fails authentication")
	ErrExpired   = errors.New("session: expired")
)

const (
	formatVersion = 1
	// version(1) flags(1) issued(8) expires(8) id(16) [uid(8)] [gid(8)] user(rest)
	headerLen = 1 + 1 + 8 + 8 + 16
	flagAdmin = 1
	flagUID   = 2
	flagGID   = 4
	flagLocal = 8
	nonceLen  = 12
	maxCookie = 4096
)

// Codec seals and opens session cookies with one key. It is safe for concurrent use.
type Codec struct {
	aead cipher.AEAD
	// aad binds a cookie to its name, so a value cannot be moved between cookies.
	aad []byte
}

// NewCodec returns a codec for key (KeySize bytes); cookieName is authenticated too.
func NewCodec(key []byte, cookieName string) (*Codec, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("session key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Codec{aead: aead, aad: []byte(cookieName)}, nil
}

// NewID returns a random session id.
func NewID() [16]byte {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux; a broken RNG must not issue sessions
	}
	return id
}

// Seal returns the cookie value for s.
func (c *Codec) Seal(s Session) (string, error) {
	plain := make([]byte, headerLen, headerLen+16+len(s.User))
	plain[0] = formatVersion
	if s.Admin {
		plain[1] |= flagAdmin
	}
	if s.Local {
		plain[1] |= flagLocal
	}
	binary.BigEndian.PutUint64(plain[2:], uint64(s.Issued.Unix()))
	binary.BigEndian.PutUint64(plain[10:], uint64(s.Expires.Unix()))
	copy(plain[18:34], s.ID[:])
	if s.UID != nil {
		plain[1] |= flagUID
		plain = binary.BigEndian.AppendUint64(plain, uint64(*s.UID))
	}
	if s.GID != nil {
		plain[1] |= flagGID
		plain = binary.BigEndian.AppendUint64(plain, uint64(*s.GID))
	}
	plain = append(plain, s.User...)
	return c.seal(plain)
}

// seal encrypts plain under a fresh random nonce, bound to the codec's name:
// base64url(nonce || ciphertext || tag).
func (c *Codec) seal(plain []byte) (string, error) {
	buf := make([]byte, nonceLen, nonceLen+len(plain)+c.aead.Overhead())
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	buf = c.aead.Seal(buf, buf[:nonceLen], plain, c.aad)
	return base64.RawURLEncoding.EncodeToString(buf), nil
}

// decodeBufs holds Open's decode buffers; cookies are far below decodeBufSize bytes.
const decodeBufSize = 512

var decodeBufs = sync.Pool{New: func() any { return new([decodeBufSize]byte) }}

// Open authenticates and decrypts a cookie value and checks its expiry against now.
func (c *Codec) Open(value string, now time.Time) (Session, error) {
	if len(value) > maxCookie || len(value) < base64.RawURLEncoding.EncodedLen(nonceLen+headerLen+c.aead.Overhead()) {
		return Session{}, ErrMalformed
	}
	// One buffer for the decoded bytes; the plaintext is opened in place. The AEAD is
	// an interface, so a buffer handed to it escapes: a pooled one keeps Open (called on
	// every proxied request) free of that allocation.
	var buf []byte
	if n := base64.RawURLEncoding.DecodedLen(len(value)); n <= decodeBufSize {
		pooled := decodeBufs.Get().(*[decodeBufSize]byte)
		defer func() {
			clear(pooled[:n]) // no plaintext left behind in the pool
			decodeBufs.Put(pooled)
		}()
		buf = pooled[:0]
	} else {
		buf = make([]byte, 0, n)
	}
	buf, err := base64.RawURLEncoding.AppendDecode(buf, []byte(value))
	if err != nil {
		return Session{}, ErrMalformed
	}
	plain, err := c.aead.Open(buf[nonceLen:nonceLen], buf[:nonceLen], buf[nonceLen:], c.aad)
	if err != nil {
		return Session{}, ErrInvalid
	}
	if len(plain) < headerLen || plain[0] != formatVersion {
		return Session{}, ErrMalformed
	}
	s := Session{
		Admin:   plain[1]&flagAdmin != 0,
		Local:   plain[1]&flagLocal != 0,
		Issued:  time.Unix(int64(binary.BigEndian.Uint64(plain[2:])), 0),
		Expires: time.Unix(int64(binary.BigEndian.Uint64(plain[10:])), 0),
	}
	copy(s.ID[:], plain[18:34])
	rest := plain[headerLen:]
	for _, f := range []struct {
		flag byte
		dst  **int64
	}{{flagUID, &s.UID}, {flagGID, &s.GID}} {
		if plain[1]&f.flag == 0 {
			continue
		}
		if len(rest) < 8 {
			return Session{}, ErrMalformed
		}
		v := int64(binary.BigEndian.Uint64(rest))
		*f.dst, rest = &v, rest[8:]
	}
	s.User = string(rest)
	if !now.Before(s.Expires) {
		return Session{}, ErrExpired
	}
	if s.User == "" {
		return Session{}, ErrMalformed
	}
	return s, nil
}

// WithName returns a codec with the same key whose cookies are bound to another name
// (the authenticated data), e.g. one per workspace host, so a value sealed for one
// cookie or host is refused for every other.
func (c *Codec) WithName(name string) *Codec {
	return &Codec{aead: c.aead, aad: []byte(name)}
}

// For is the one conversion from an identity to a session (browser sign-in, the
// per-workspace-origin handoff and the workspace host's own cookie all use it), so the
// unix ids travel with the user on every path. The session gets a new random id.
func For(id identity.Identity, issued time.Time, ttl time.Duration) Session {
	return Session{ID: NewID(), User: id.User, Admin: id.Admin && !id.Local, Local: id.Local, UID: id.UID, GID: id.GID, Issued: issued, Expires: issued.Add(ttl)}
}

// Identity is the inverse of For.
func (s Session) Identity() identity.Identity {
	return identity.Identity{User: s.User, Admin: s.Admin, Local: s.Local, UID: s.UID, GID: s.GID}
}
