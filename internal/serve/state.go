package serve

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/codehub-dev/codehub/internal/session"
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
