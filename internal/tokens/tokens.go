// Package tokens stores personal API tokens: random secrets shown once, kept only as
// SHA-256 hashes (the secrets are 256-bit random, so a fast hash is enough), revocable.
package tokens

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/codehub-dev/codehub/internal/session"
)

// Prefix marks codehub tokens so secret scanners and humans recognise them.
const Prefix = "chub_"

// Token is a stored token (without its secret).
type Token struct {
	ID   string `json:"id"`
	User string `json:"user"`
	// Admin is what older files recorded; it is never read: rights come from the account
	// (or the admin lists) whenever the token is used.
	Admin bool `json:"admin,omitempty"`
	// Local marks a token of a local account: void when the account is deleted or its
	// credentials change after the token was made.
	Local   bool      `json:"local,omitempty"`
	Name    string    `json:"name"`
	Hash    string    `json:"hash"` // hex SHA-256 of the secret part
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires,omitzero"`
	// LastUsed is the last successful use (kept in memory on every use, written to the
	// file with the next change or Flush).
	LastUsed time.Time `json:"lastUsed,omitzero"`
}

var (
	ErrInvalid  = errors.New("invalid API token")
	ErrNotFound = errors.New("no such token")
)

// Store is the tokens file. Lookups (every API call with a token) read an immutable
// snapshot; changes copy it and persist.
type Store struct {
	path     string
	mu       sync.Mutex
	byID     atomic.Pointer[map[string]Token]
	lastUsed sync.Map // id → time.Time, newer than the file's
}

// Open loads the tokens file at path (missing = none).
func Open(path string) (*Store, error) {
	s := &Store{path: path}
	m := map[string]Token{}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("tokens file: %w", err)
	default:
		var list []Token
		if err := json.Unmarshal(data, &list); err != nil {
			return nil, fmt.Errorf("tokens file %s: %w", path, err)
		}
		for _, t := range list {
			m[t.ID] = t
		}
	}
	s.byID.Store(&m)
	return s, nil
}

// Create makes a token for user and returns its full secret value, shown only once.
func (s *Store) Create(user string, local bool, name string, ttl time.Duration, now time.Time) (string, Token, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return "", Token{}, errors.New("token name must be 1 to 100 characters")
	}
	idb := make([]byte, 6)
	secret := make([]byte, 32)
	if _, err := rand.Read(idb); err != nil {
		return "", Token{}, err
	}
	if _, err := rand.Read(secret); err != nil {
		return "", Token{}, err
	}
	id := hex.EncodeToString(idb)
	sec := base64.RawURLEncoding.EncodeToString(secret)
	sum := sha256.Sum256([]byte(sec))
	t := Token{ID: id, User: user, Local: local, Name: name, Hash: hex.EncodeToString(sum[:]), Created: now.UTC()}
	if ttl > 0 {
		t.Expires = now.Add(ttl).UTC()
	}
	err := s.update(func(m map[string]Token) error {
		m[id] = t
		return nil
	})
	if err != nil {
		return "", Token{}, err
	}
	return Prefix + id + "_" + sec, t, nil
}

// Verify returns the token a presented value belongs to.
func (s *Store) Verify(value string, now time.Time) (Token, error) {
	rest, ok := strings.CutPrefix(value, Prefix)
	if !ok {
		return Token{}, ErrInvalid
	}
	id, sec, ok := strings.Cut(rest, "_")
	if !ok || len(id) != 12 || len(sec) < 40 {
		return Token{}, ErrInvalid
	}
	t, ok := (*s.byID.Load())[id]
	if !ok {
		return Token{}, ErrInvalid
	}
	sum := sha256.Sum256([]byte(sec))
	want, err := hex.DecodeString(t.Hash)
	if err != nil || subtle.ConstantTimeCompare(sum[:], want) != 1 {
		return Token{}, ErrInvalid
	}
	if !t.Expires.IsZero() && !now.Before(t.Expires) {
		return Token{}, ErrInvalid
	}
	s.lastUsed.Store(id, now.UTC())
	return t, nil
}

// withLastUse fills t.LastUsed from memory when newer than the file's.
func (s *Store) withLastUse(t Token) Token {
	if v, ok := s.lastUsed.Load(t.ID); ok && v.(time.Time).After(t.LastUsed) {
		t.LastUsed = v.(time.Time)
	}
	return t
}

// Flush writes the last-use times kept in memory to the file.
func (s *Store) Flush() error {
	return s.update(func(map[string]Token) error { return nil })
}

// List returns the tokens of user ("" = everyone's), newest first.
func (s *Store) List(user string) []Token {
	var out []Token
	for _, t := range *s.byID.Load() {
		if user == "" || t.User == user {
			out = append(out, s.withLastUse(t))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out
}

// Get returns one token by id.
func (s *Store) Get(id string) (Token, error) {
	t, ok := (*s.byID.Load())[id]
	if !ok {
		return Token{}, ErrNotFound
	}
	return t, nil
}

// Revoke deletes a token.
func (s *Store) Revoke(id string) error {
	return s.update(func(m map[string]Token) error {
		if _, ok := m[id]; !ok {
			return ErrNotFound
		}
		delete(m, id)
		return nil
	})
}

// RevokeUser deletes user's tokens created before cutoff (the zero time: all of them),
// when the account is deleted or its credentials change; it returns how many.
func (s *Store) RevokeUser(user string, cutoff time.Time) (int, error) {
	n := 0
	err := s.update(func(m map[string]Token) error {
		for id, t := range m {
			if t.User == user && (cutoff.IsZero() || t.Created.Before(cutoff)) {
				delete(m, id)
				n++
			}
		}
		return nil
	})
	return n, err
}

func (s *Store) update(change func(map[string]Token) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.byID.Load()
	next := make(map[string]Token, len(old)+1)
	for k, v := range old {
		next[k] = s.withLastUse(v)
	}
	if err := change(next); err != nil {
		return err
	}
	list := make([]Token, 0, len(next))
	for _, t := range next {
		list = append(list, t)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	data, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	if err := session.WriteFileAtomic(s.path, data, 0o600); err != nil {
		return fmt.Errorf("write tokens file: %w", err)
	}
	s.byID.Store(&next)
	return nil
}
