package users

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSetVerify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.json")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set("alice", "correct horse", false); err != nil {
		t.Fatal(err)
	}
	if err := s.Set("root", "battery staple", true); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("users file mode %v, want 0600", st.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if contains(string(data), "correct horse") {
		t.Fatal("password stored in clear")
	}

	tests := []struct {
		user, pw string
		wantErr  error
		admin    bool
	}{
		{"alice", "correct horse", nil, false},
		{"root", "battery staple", nil, true},
		{"alice", "wrong password", ErrBadCredentials, false},
		{"alice", "", ErrBadCredentials, false},
		{"Alice", "correct horse", ErrBadCredentials, false},
		{"nobody", "correct horse", ErrBadCredentials, false},
		{"alice ", "correct horse", ErrBadCredentials, false},
	}
	for _, tt := range tests {
		u, err := s.Verify(tt.user, tt.pw)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("Verify(%q, %q) = %v, want %v", tt.user, tt.pw, err, tt.wantErr)
		}
		if err == nil && u.Admin != tt.admin {
			t.Errorf("Verify(%q).Admin = %v", tt.user, u.Admin)
		}
	}

	// Another process (the CLI) changing the file is seen by a running store, within
	// the store's staleness bound.
	other, _ := Open(path)
	if err := other.Set("bob", "another password", false); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * staleness)
	for {
		_, err := s.Verify("bob", "another password")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("store did not reload the users file: %v", err)
		}
		time.Sleep(staleness / 10)
	}
}

func TestRejectsBadInput(t *testing.T) {
	s, _ := Open(filepath.Join(t.TempDir(), "users.json"))
	for _, tt := range []struct{ name, pw string }{
		{"", "long enough"},
		{"has space", "long enough"},
		{"tab\tname", "long enough"},
		{"new\nline", "long enough"},
		{"a/b", "long enough"},
		{"ok", "short"},
		{"ok", string(make([]byte, 80))},
	} {
		if err := s.Set(tt.name, tt.pw, false); err == nil {
			t.Errorf("Set(%q, %d-byte password) accepted", tt.name, len(tt.pw))
		}
	}
}

func TestMalformedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.json")
	os.WriteFile(path, []byte("{not json"), 0o600)
	if _, err := Open(path); err == nil {
		t.Fatal("malformed users file accepted")
	}
	data, _ := os.ReadFile(path)
	if string(data) != "{not json" {
		t.Fatal("malformed file was modified")
	}
}

func TestRandomPassword(t *testing.T) {
	a, b := RandomPassword(), RandomPassword()
	if a == b || len(a) < 16 {
		t.Fatalf("weak random passwords %q %q", a, b)
	}
}

func contains(s, sub string) bool {
	return len(sub) > 0 && len(s) >= len(sub) && (s == sub || indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestAssignUIDIsStableAndSkipsTakenIDs(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "users.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"alice", "bob", "carol"} {
		if err := s.Set(n, "long-enough-pw", false); err != nil {
			t.Fatal(err)
		}
	}
	taken := uidTaken
	t.Cleanup(func() { uidTaken = taken })
	uidTaken = func(uid int64) bool { return uid == UIDBase+1 } // e.g. an account in /etc/passwd

	a, err := s.AssignUID("alice")
	if err != nil || a != UIDBase {
		t.Fatalf("alice: %d %v", a, err)
	}
	b, _ := s.AssignUID("bob")
	if b != UIDBase+2 {
		t.Fatalf("bob got %d, want %d (UIDBase+1 is taken on the host)", b, UIDBase+2)
	}
	// Stable: again, after a password change, and after a reopen of the file.
	if err := s.Set("alice", "another-long-pw", true); err != nil {
		t.Fatal(err)
	}
	re, _ := Open(s.path)
	for _, st := range []*Store{s, re} {
		if again, _ := st.AssignUID("alice"); again != a {
			t.Fatalf("alice's uid changed: %d → %d", a, again)
		}
	}
	if _, err := s.AssignUID("nobody-here"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
}
