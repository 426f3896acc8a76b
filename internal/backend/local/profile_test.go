package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/profile"
	"github.com/codehub-dev/codehub/internal/testkit"
)

// processEnv is the environment of the workspace's process (its pid file names it).
func processEnv(t *testing.T, wsDir string) []string {
	t.Helper()
	processStatus(t, wsDir) // waits for the process
	data, _ := os.ReadFile(filepath.Join(wsDir, pidFile))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(env), "\x00"), "\x00")
}

// TestLocalProfile: the chosen profile is kept in the owner record; its env reaches the
// process (without replacing HOME), its idle timeout applies, and the start logs the fields
// the local backend ignores; a user who left the profile's group falls back to the default.
func TestLocalProfile(t *testing.T) {
	needRoot(t)
	cat, err := profile.New([]profile.Profile{
		{Name: "small", IdleTimeout: "2h"},
		{Name: "gpu", GPUs: 1, Image: "cuda", IdleTimeout: "30m", Groups: []string{"ml-team"},
			Env: []corev1.EnvVar{{Name: "PROFILE_VAR", Value: "gpu"}, {Name: "HOME", Value: "/nope"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	logs := &testkit.Buffer{}
	b, _ := newTestBackend(t, func(c *Config) {
		c.Profiles = cat
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	ctx := context.Background()
	erin := identity.Identity{User: "erin", UID: ptr(4401), GID: ptr(4401), Groups: []string{"ml-team"}}
	if err := b.SetProfile(ctx, backend.Default("erin"), "gpu"); err != nil {
		t.Fatal(err)
	}
	if err := b.SetProfile(ctx, backend.Default("erin"), "huge"); err == nil {
		t.Error("SetProfile accepted a profile that does not exist")
	}
	w, err := b.Get(ctx, backend.Default("erin"))
	if err != nil || w.Profile != "gpu" || w.State != backend.StateStopped || w.Created.IsZero() {
		t.Fatalf("Get after SetProfile: %+v, %v", w, err)
	}
	if w, err = b.Start(ctx, erin, ""); err != nil {
		t.Fatal(err)
	}
	if w.Profile != "gpu" || w.IdleTimeout != 30*time.Minute {
		t.Errorf("started: profile %q idle timeout %v, want gpu's 30m", w.Profile, w.IdleTimeout)
	}
	wsDir := b.dirOf(identity.WorkspaceName("erin"))
	env := strings.Join(processEnv(t, wsDir), "\n")
	if !strings.Contains(env, "\nPROFILE_VAR=gpu\n") && !strings.HasPrefix(env, "PROFILE_VAR=gpu\n") {
		t.Errorf("the profile's env is not in the process's:\n%s", env)
	}
	if !strings.Contains(env, "HOME="+filepath.Join(wsDir, "home")) || strings.Contains(env, "HOME=/nope") {
		t.Errorf("the profile replaced HOME:\n%s", env)
	}
	if !strings.Contains(logs.String(), `profile=gpu ignored=image,gpus`) {
		t.Errorf("no log line naming the ignored fields:\n%s", logs.String())
	}
	if got := strings.Join(b.IgnoredProfileFields(cat.All()[1]), ","); got != "image,gpus" {
		t.Errorf("IgnoredProfileFields = %s", got)
	}
	if err := b.Stop(ctx, backend.Default("erin")); err != nil {
		t.Fatal(err)
	}
	erin.Groups = nil
	if w, err = b.Start(ctx, erin, ""); err != nil {
		t.Fatal(err)
	}
	if w.Profile != "small" || w.IdleTimeout != 2*time.Hour || !strings.Contains(w.Notice, `uses "small"`) {
		t.Errorf("after leaving ml-team: profile %q idle %v notice %q", w.Profile, w.IdleTimeout, w.Notice)
	}
	rec, _ := readOwner(wsDir)
	if rec.Profile != "small" || *rec.UID != 4401 {
		t.Errorf("owner record %+v", rec)
	}
}

// TestLocalDelete: Delete stops the workspace and removes its directory (files included);
// afterwards it is not found, and a second Delete says so.
func TestLocalDelete(t *testing.T) {
	needRoot(t)
	b, _ := newTestBackend(t, nil)
	ctx := context.Background()
	if err := b.Delete(ctx, backend.Default("frank")); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("Delete before any start: %v", err)
	}
	if _, err := b.Start(ctx, identity.Identity{User: "frank", UID: ptr(4402), GID: ptr(4402)}, ""); err != nil {
		t.Fatal(err)
	}
	wsDir := b.dirOf(identity.WorkspaceName("frank"))
	processStatus(t, wsDir)
	file := filepath.Join(wsDir, "home", "workspace", "notes.txt")
	if err := os.WriteFile(file, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	effect, err := b.DeleteEffect(ctx, backend.Default("frank"))
	if err != nil || !strings.Contains(effect, wsDir) || !strings.Contains(effect, "removed") {
		t.Errorf("DeleteEffect = %q, %v", effect, err)
	}
	if err := b.Delete(ctx, backend.Default("frank")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(wsDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("workspace dir after Delete: %v", err)
	}
	if _, err := b.Get(ctx, backend.Default("frank")); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("Get after Delete: %v", err)
	}
	if list, _ := b.List(ctx); len(list) != 0 {
		t.Errorf("List after Delete: %+v", list)
	}
	if err := b.Delete(ctx, backend.Default("frank")); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("second Delete: %v", err)
	}
}
