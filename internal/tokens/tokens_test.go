package tokens

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCreateVerifyRevoke(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	secret, tok, err := s.Create("alice", false, "laptop CLI", 0, now)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), strings.TrimPrefix(secret, Prefix+tok.ID+"_")) {
		t.Fatal("secret stored in clear")
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("tokens file mode %v", st.Mode().Perm())
	}
	got, err := s.Verify(secret, now)
	if err != nil || got.User != "alice" {
		t.Fatalf("Verify = %+v, %v", got, err)
	}
	last := secret[len(secret)-1]
	flipped := secret[:len(secret)-1] + string(rune(last^1))
	for _, bad := range []string{"", "chub_", secret[:len(secret)-1], flipped, strings.TrimPrefix(secret, Prefix), "Bearer " + secret, Prefix + "000000000000_" + strings.Repeat("A", 43)} {
		if _, err := s.Verify(bad, now); !errors.Is(err, ErrInvalid) {
			t.Errorf("Verify(%q) = %v, want ErrInvalid", bad, err)
		}
	}
	reopened, _ := Open(path)
	if _, err := reopened.Verify(secret, now); err != nil {
		t.Fatalf("token lost across reopen: %v", err)
	}
	if err := s.Revoke(tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(secret, now); !errors.Is(err, ErrInvalid) {
		t.Fatal("revoked token still valid")
	}
}

func TestExpiry(t *testing.T) {
	s, _ := Open(filepath.Join(t.TempDir(), "tokens.json"))
	now := time.Unix(1_800_000_000, 0)
	secret, _, _ := s.Create("bob", false, "ci", time.Hour, now)
	if _, err := s.Verify(secret, now.Add(59*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(secret, now.Add(time.Hour)); !errors.Is(err, ErrInvalid) {
		t.Fatal("expired token accepted")
	}
}
