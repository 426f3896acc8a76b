package local

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/codehub-dev/codehub/internal/identity"
)

// TestRunsAsPlatformUID checks that a workspace whose identity carries a unix uid/gid
// runs as those ids and owns its files, when the gateway is root. The launcher is a
// shell script (what matters here is the process credential the kernel reports, not
// code-server itself; the e2e tests run the real one).
func TestRunsAsPlatformUID(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root (CI and the dev machines run as root)")
	}
	dir := t.TempDir()
	// The workspace's uid must be able to reach the launcher and its own directory.
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	launcher := filepath.Join(dir, "launcher")
	os.WriteFile(launcher, []byte("#!/bin/sh\nexec sleep 600\n"), 0o755)
	b, err := New(Config{CodeServer: launcher, Dir: filepath.Join(dir, "ws"), StopGrace: time.Second, StartTimeout: time.Minute, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(dir, "ws"), 0o755)
	t.Cleanup(func() { b.Shutdown(context.Background()) })
	uid, gid := int64(4321), int64(4322)
	if _, err := b.Start(context.Background(), identity.Identity{User: "carol", UID: &uid, GID: &gid}); err != nil {
		t.Fatal(err)
	}
	wsDir := filepath.Join(dir, "ws", identity.WorkspaceName("carol"))
	var status string
	deadline := time.Now().Add(30 * time.Second)
	for {
		if data, err := os.ReadFile(filepath.Join(wsDir, pidFile)); err == nil {
			pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
			if s, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil && strings.Contains(string(s), "sleep") {
				status = string(s)
				break
			}
		}
		if time.Now().After(deadline) {
			ws, _ := b.Get(context.Background(), "carol")
			log, _ := os.ReadFile(filepath.Join(wsDir, logFile))
			t.Fatalf("workspace process never appeared: %+v\n%s", ws, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(status, "\nUid:\t4321\t4321\t4321\t4321") || !strings.Contains(status, "\nGid:\t4322\t4322\t4322\t4322") {
		t.Fatalf("process ids:\n%s", status)
	}
	st, _ := os.Stat(filepath.Join(wsDir, "home", "workspace"))
	if sys := st.Sys().(*syscall.Stat_t); sys.Uid != 4321 || sys.Gid != 4322 {
		t.Fatalf("workspace folder owned by %d:%d", sys.Uid, sys.Gid)
	}

	// uid 0 from an identity never runs a workspace as root.
	zero := int64(0)
	if cred := b.credentialFor(identity.Identity{User: "mallory", UID: &zero}); cred != nil {
		t.Fatalf("uid 0 accepted: %+v", cred)
	}
}
