// Package users keeps the gateway's local user accounts in a 0600 JSON file with bcrypt
// password hashes.
package users

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/idle"
	"github.com/codehub-dev/codehub/internal/session"
)

// User is one local account.
type User struct {
	Name  string `json:"name"`
	Hash  string `json:"hash"`
	Admin bool   `json:"admin,omitempty"`
	// UID is the unix uid (and gid) the user's local workspace runs as when the gateway
	// runs as root: allocated once from UIDBase upwards and never changed (see AssignUID).
	UID     *int64    `json:"uid,omitempty"`
	Created time.Time `json:"created"`
	// Changed is when the password or the admin flag last changed: sessions and API
	// tokens issued before it are void.
	Changed time.Time `json:"changed,omitzero"`
}

type file struct {
	Users []User `json:"users"`
}

var (
	ErrBadCredentials = errors.New("wrong user name or password")
	ErrNotFound       = errors.New("no such user")
)

// Cost is the bcrypt cost of new hashes. Tests lower it; production keeps the default.
var Cost = bcrypt.DefaultCost

// MinPasswordLen is the shortest password accepted for a local user.
const MinPasswordLen = 8

// Store is the users file. It re-reads the file when it changed on disk, so
// `codehub users add` takes effect in a running gateway.
type Store struct {
	// Clock stamps Created and Changed; the wall clock when nil (tests share the
	// gateway's injected clock, so sessions and account changes are on one time line).
	Clock idle.Clock

	path    string
	mu      sync.Mutex
	mod     time.Time
	checked time.Time // last stat of the file
	byID    map[string]User
}

// staleness bounds how old a lookup's view of the file may be: every signed-in request
// looks its account up, so the file is stat'ed at most this often.
const staleness = time.Second

// dummyHash makes unknown users cost as much as known ones, so timing does not reveal
// which user names exist.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("codehub-dummy-password"), bcrypt.DefaultCost)
	return h
})

// Open opens (not creates) the users file at path; a missing file is an empty store.
func Open(path string) (*Store, error) {
	s := &Store{path: path}
	if err := s.reload(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) reload() error {
	now := time.Now()
	if s.byID != nil && now.Sub(s.checked) < staleness {
		return nil
	}
	s.checked = now
	st, err := os.Stat(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		s.byID, s.mod = map[string]User{}, time.Time{}
		return nil
	}
	if err != nil {
		return fmt.Errorf("users file: %w", err)
	}
	if s.byID != nil && st.ModTime().Equal(s.mod) {
		return nil
	}
	data, err := os.ReadFile(s.path)
	if err != nil {
		return fmt.Errorf("users file: %w", err)
	}
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("users file %s is not valid JSON: %w", s.path, err)
	}
	m := make(map[string]User, len(f.Users))
	for _, u := range f.Users {
		m[u.Name] = u
	}
	s.byID, s.mod = m, st.ModTime()
	return nil
}

// fresh re-reads the file if it changed, however recently it was checked: every write
// starts from what is on disk (callers hold mu).
func (s *Store) fresh() error {
	s.checked = time.Time{}
	return s.reload()
}

// Account reports what the request path needs of a local user: whether it exists, its
// admin flag, and when its credentials last changed. Its view is at most a second old.
func (s *Store) Account(name string) (admin bool, changed time.Time, ok bool) {
	u, err := s.Lookup(name)
	if err != nil {
		return false, time.Time{}, false
	}
	changed = u.Changed
	if changed.IsZero() {
		changed = u.Created // files written before Changed existed
	}
	return u.Admin, changed, true
}

// Changes maps every local user to when its credentials last changed: the gateway
// compares snapshots to end the live connections of deleted and changed accounts.
func (s *Store) Changes() (map[string]time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reload(); err != nil {
		return nil, err
	}
	out := make(map[string]time.Time, len(s.byID))
	for name, u := range s.byID {
		out[name] = u.Changed
		if u.Changed.IsZero() {
			out[name] = u.Created
		}
	}
	return out, nil
}

// ValidateName rejects names that cannot be a user: identity.CheckName, the policy every
// provider applies, and at most 64 bytes for a local account.
func ValidateName(name string) error {
	if len(name) > 64 {
		return fmt.Errorf("a local user name must be at most 64 bytes")
	}
	return identity.CheckName(name)
}

// Set creates or replaces a user with a new password.
func (s *Store) Set(name, password string, admin bool) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	if len(password) < MinPasswordLen {
		return fmt.Errorf("password must be at least %d characters", MinPasswordLen)
	}
	if len(password) > 72 {
		return fmt.Errorf("password must be at most 72 bytes (bcrypt's limit)")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), Cost)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fresh(); err != nil {
		return err
	}
	now := time.Now().UTC()
	if s.Clock != nil {
		now = s.Clock.Now().UTC()
	}
	u := User{Name: name, Hash: string(hash), Admin: admin, Created: now, Changed: now}
	if old, ok := s.byID[name]; ok {
		u.Created, u.UID = old.Created, old.UID
	}
	s.byID[name] = u
	return s.save()
}

// SetAdmin grants or removes admin rights; sessions and tokens issued before are void.
func (s *Store) SetAdmin(name string, admin bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fresh(); err != nil {
		return err
	}
	u, ok := s.byID[name]
	if !ok {
		return ErrNotFound
	}
	if u.Admin == admin {
		return nil
	}
	u.Admin, u.Changed = admin, time.Now().UTC()
	if s.Clock != nil {
		u.Changed = s.Clock.Now().UTC()
	}
	s.byID[name] = u
	return s.save()
}

// Delete removes a user.
func (s *Store) Delete(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fresh(); err != nil {
		return err
	}
	if _, ok := s.byID[name]; !ok {
		return ErrNotFound
	}
	delete(s.byID, name)
	return s.save()
}

func (s *Store) save() error {
	f := file{Users: make([]User, 0, len(s.byID))}
	for _, u := range s.byID {
		f.Users = append(f.Users, u)
	}
	sort.Slice(f.Users, func(i, j int) bool { return f.Users[i].Name < f.Users[j].Name })
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := session.WriteFileAtomic(s.path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write users file: %w", err)
	}
	st, err := os.Stat(s.path)
	if err == nil {
		s.mod = st.ModTime()
	}
	return nil
}

// List returns all users sorted by name (hashes included; callers must not print them).
func (s *Store) List() ([]User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reload(); err != nil {
		return nil, err
	}
	out := make([]User, 0, len(s.byID))
	for _, u := range s.byID {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Lookup returns a user by exact name.
func (s *Store) Lookup(name string) (User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reload(); err != nil {
		return User{}, err
	}
	u, ok := s.byID[name]
	if !ok {
		return User{}, ErrNotFound
	}
	return u, nil
}

// Verify checks a password. Every failure is ErrBadCredentials, whichever part was wrong.
func (s *Store) Verify(name, password string) (User, error) {
	u, err := s.Lookup(name)
	if errors.Is(err, ErrNotFound) {
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return User{}, ErrBadCredentials
	}
	if err != nil {
		return User{}, err
	}
	if bcrypt.CompareHashAndPassword([]byte(u.Hash), []byte(password)) != nil {
		return User{}, ErrBadCredentials
	}
	return u, nil
}

// UIDBase is the first unix uid handed to local users' workspaces: far above the ids
// distributions give to accounts (1000–60000) and to DynamicUser services (61184–65519).
const UIDBase int64 = 200000

// uidTaken reports whether the host's account database already uses uid; tests replace it.
var uidTaken = func(uid int64) bool {
	_, err := user.LookupId(strconv.FormatInt(uid, 10))
	return err == nil
}

// AssignUID returns the unix uid of a local user's workspace, allocating the lowest free
// one from UIDBase on first use and saving it, so it never changes afterwards. Free means
// no other user of the file has it and the host's passwd database does not know it. The
// gid is the same number (a private group). ErrNotFound for a name not in the file.
func (s *Store) AssignUID(name string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fresh(); err != nil {
		return 0, err
	}
	u, ok := s.byID[name]
	if !ok {
		return 0, ErrNotFound
	}
	if u.UID != nil {
		return *u.UID, nil
	}
	used := map[int64]bool{}
	for _, o := range s.byID {
		if o.UID != nil {
			used[*o.UID] = true
		}
	}
	uid := UIDBase
	for used[uid] || uidTaken(uid) {
		uid++
	}
	u.UID = &uid
	s.byID[name] = u
	if err := s.save(); err != nil {
		return 0, err
	}
	return uid, nil
}

// RandomPassword returns a password with ~120 bits of entropy, easy to copy.
func RandomPassword() string {
	b := make([]byte, 15)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return strings.NewReplacer("-", "x", "_", "y").Replace(base64.RawURLEncoding.EncodeToString(b))
}
