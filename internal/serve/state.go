package serve

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"github.com/codehub-dev/codehub/internal/session"
	"github.com/codehub-dev/codehub/internal/users"
)

// ensureStateDir creates the state dir and checks it is usable. With one unix uid per
// workspace the dir is 0711 (workspaces reach their own subdirectories, list nothing) and
// every file directly in it — keys, users, tokens, revocations — is made 0600: no
// workspace uid can read the gateway's secrets.
func ensureStateDir(dir string, uidMode bool) error {
	mode := fs.FileMode(0o700)
	if uidMode {
		mode = 0o711
	}
	if err := os.MkdirAll(dir, mode); err != nil {
		return fmt.Errorf("state dir %s: %w", dir, unwrapSyscall(err))
	}
	probe, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return fmt.Errorf("state dir %s is not writable: %w", dir, unwrapSyscall(err))
	}
	probe.Close()
	os.Remove(probe.Name())
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("state dir %s is not readable: %w", dir, unwrapSyscall(err))
	}
	if !uidMode {
		return nil
	}
	if err := os.Chmod(dir, mode); err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if info, err := e.Info(); err == nil && info.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, 0o600); err != nil {
				return fmt.Errorf("make %s private: %w", p, err)
			}
		}
	}
	return nil
}

// metricsToken protects a TCP metrics listener of the local backend with a bearer token:
// workspaces share the host's loopback, so an address alone does not keep them out. The
// token is created once in <state-dir>/metrics.token (0600); Prometheus reads it with
// authorization.credentials_file. The kubernetes backend relies on its NetworkPolicy.
func metricsToken(o Options) (func(http.Handler) http.Handler, error) {
	open := func(h http.Handler) http.Handler { return h }
	if o.MetricsListen == "" || o.Backend != "local" {
		return open, nil
	}
	path := filepath.Join(o.StateDir, "metrics.token")
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		data = []byte(hex.EncodeToString(b) + "\n")
		if err := session.WriteFileAtomic(path, data, 0o600); err != nil {
			return nil, fmt.Errorf("metrics token: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("metrics token: %w", err)
	}
	want := []byte("Bearer " + strings.TrimSpace(string(data)))
	o.Logger.Info("metrics need a bearer token", "token_file", path)
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="codehub metrics"`)
				http.Error(w, "metrics need the bearer token from "+path, http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, r)
		})
	}, nil
}

// firstAdmin creates an "admin" user with a random password when there are no users. The
// password goes to a 0600 file in the state dir, whose path is printed and logged; the
// password itself is printed only on a terminal — under systemd or in a container stdout
// is the log, and logs never hold passwords.
func firstAdmin(store *users.Store, stateDir string, out io.Writer, log *slog.Logger) error {
	list, err := store.List()
	if err != nil {
		return err
	}
	if len(list) > 0 {
		return nil
	}
	pw := users.RandomPassword()
	file := filepath.Join(stateDir, "initial-admin-password")
	if err := session.WriteFileAtomic(file, []byte(pw+"\n"), 0o600); err != nil {
		return fmt.Errorf("first admin password file: %w", err)
	}
	if err := store.Set("admin", pw, true); err != nil {
		return err
	}
	log.Info("created the first admin user", "user", "admin", "password_file", file)
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(out, "\nCreated the first admin user. Sign in with:\n  user:     admin\n  password: %s\n(also in %s; change it with `codehub users add admin --admin --password-stdin`)\n\n", pw, file)
		return nil
	}
	fmt.Fprintf(out, "\nCreated the first admin user \"admin\"; the password is in %s (mode 0600).\n\n", file)
	return nil
}
