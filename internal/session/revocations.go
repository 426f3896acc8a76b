package session

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Revocations remembers sessions that signed out until they would have expired anyway.
// Reads (every request) are lock-free; writes (logouts) copy the set and persist it.
type Revocations struct {
	path string
	mu   sync.Mutex // serialises writers
	set  atomic.Pointer[map[[16]byte]time.Time]
}

// LoadRevocations reads the revocation file at path (missing = none revoked).
func LoadRevocations(path string) (*Revocations, error) {
	r := &Revocations{path: path}
	set := map[[16]byte]time.Time{}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("read revoked sessions: %w", err)
	default:
		var stored map[string]time.Time
		if err := json.Unmarshal(data, &stored); err != nil {
			return nil, fmt.Errorf("revoked sessions file %s: %w", path, err)
		}
		for k, exp := range stored {
			var id [16]byte
			if b, err := hex.DecodeString(k); err == nil && len(b) == len(id) {
				copy(id[:], b)
				set[id] = exp
			}
		}
	}
	r.set.Store(&set)
	return r, nil
}

// Revoked reports whether the session id was revoked.
func (r *Revocations) Revoked(id [16]byte) bool {
	_, ok := (*r.set.Load())[id]
	return ok
}

// Revoke marks a session revoked until its expiry and persists the set, dropping
// entries that have expired by now.
func (r *Revocations) Revoke(id [16]byte, expires, now time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.set.Load()
	next := make(map[[16]byte]time.Time, len(old)+1)
	stored := make(map[string]time.Time, len(old)+1)
	for k, exp := range old {
		if exp.After(now) {
			next[k] = exp
			stored[hex.EncodeToString(k[:])] = exp
		}
	}
	next[id] = expires
	stored[hex.EncodeToString(id[:])] = expires
	data, err := json.Marshal(stored)
	if err != nil {
		return err
	}
	if err := WriteFileAtomic(r.path, data, 0o600); err != nil {
		return fmt.Errorf("persist revoked sessions: %w", err)
	}
	r.set.Store(&next)
	return nil
}
