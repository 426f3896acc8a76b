package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/testkit"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root (CI and the dev machines run as root): it switches to other unix uids")
	}
}

func ptr(v int64) *int64 { return &v }

// newTestBackend makes a backend in a directory every uid can traverse, with a launcher
// that just sleeps (what matters here is the credential the kernel reports).
func newTestBackend(t *testing.T, mutate func(*Config)) (*Backend, string) {
	t.Helper()
	dir := testkit.TraversableTempDir(t)
	os.Mkdir(filepath.Join(dir, "cs"), 0o755)
	launcher := filepath.Join(dir, "cs", "launcher")
	os.WriteFile(launcher, []byte("#!/bin/sh\nexec sleep 600\n"), 0o755)
	cfg := Config{CodeServer: launcher, Dir: filepath.Join(dir, "state", "workspaces"), StopGrace: time.Second,
		StartTimeout: time.Minute, Logger: slog.New(slog.DiscardHandler)}
	if mutate != nil {
		mutate(&cfg)
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Shutdown(context.Background()) })
	return b, dir
}

// TestRunsAsOwnerUID: the workspace process runs as the owner's ids and owns its files.
func TestRunsAsOwnerUID(t *testing.T) {
	needRoot(t)
	b, _ := newTestBackend(t, nil)
	if _, err := b.Start(context.Background(), identity.Identity{User: "carol", UID: ptr(4321), GID: ptr(4322)}, ""); err != nil {
		t.Fatal(err)
	}
	wsDir := b.dirOf(identity.WorkspaceName("carol"))
	status := processStatus(t, wsDir)
	if !strings.Contains(status, "\nUid:\t4321\t4321\t4321\t4321") || !strings.Contains(status, "\nGid:\t4322\t4322\t4322\t4322") {
		t.Fatalf("process ids:\n%s", status)
	}
	for _, d := range []string{filepath.Join(wsDir, "home", "workspace"), b.sockDirOf(identity.WorkspaceName("carol"))} {
		st, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if sys := st.Sys().(*syscall.Stat_t); sys.Uid != 4321 || sys.Gid != 4322 || st.Mode().Perm() != 0o700 {
			t.Fatalf("%s owned by %d:%d mode %o", d, sys.Uid, sys.Gid, st.Mode().Perm())
		}
	}
	st, _ := os.Stat(filepath.Join(wsDir, ownerRecord))
	if sys := st.Sys().(*syscall.Stat_t); sys.Uid != 0 || st.Mode().Perm() != 0o600 {
		t.Fatalf("owner record must be the gateway's, 0600: %d %o", sys.Uid, st.Mode().Perm())
	}
}

func processStatus(t *testing.T, wsDir string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if data, err := os.ReadFile(filepath.Join(wsDir, pidFile)); err == nil {
			pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
			if s, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil && strings.Contains(string(s), "sleep") {
				return string(s)
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(wsDir, logFile))
			t.Fatalf("workspace process never appeared:\n%s", log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestUIDComesFromTheOwnersRecord is the identity table of uid mode: the ids a workspace
// runs as come from its owner (platform ids at the owner's own start, remembered; or the
// local user's allocation), never from whoever starts it, and a workspace without ids, or
// with system ids, is refused.
func TestUIDComesFromTheOwnersRecord(t *testing.T) {
	needRoot(t)
	local := map[string]int64{"dave": 200007}
	b, _ := newTestBackend(t, func(c *Config) {
		c.UIDs = func(user string) (int64, bool, error) { uid, ok := local[user]; return uid, ok, nil }
	})
	cases := []struct {
		name    string
		id      identity.Identity
		wantUID int64 // 0 = refused
	}{
		{"platform ids at the owner's own visit", identity.Identity{User: "erin", UID: ptr(3001), GID: ptr(3002)}, 3001},
		{"a later start without ids (API token, admin) uses the record", identity.Identity{User: "erin"}, 3001},
		{"local user: allocated uid", identity.Identity{User: "dave"}, 200007},
		{"no ids known anywhere: refused", identity.Identity{User: "frank"}, 0},
		{"uid 0 from an identity: refused", identity.Identity{User: "mallory", UID: ptr(0)}, 0},
		{"a system uid: refused", identity.Identity{User: "sys", UID: ptr(33)}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := b.dirOf(identity.WorkspaceName(c.id.User))
			os.MkdirAll(dir, 0o700)
			cred, err := b.credentialFor(c.id, "", dir)
			if c.wantUID == 0 {
				if !errors.Is(err, backend.ErrRefused) || cred != nil {
					t.Fatalf("want refusal, got %+v %v", cred, err)
				}
				return
			}
			if err != nil || cred == nil || int64(cred.Uid) != c.wantUID {
				t.Fatalf("want uid %d, got %+v %v", c.wantUID, cred, err)
			}
		})
	}
}

// TestSingleUserModeServesOnePerson: with the gateway's own unix user, a second user's
// workspace is refused with a reason that says how to serve more people.
func TestSingleUserModeServesOnePerson(t *testing.T) {
	b := &Backend{cfg: Config{Isolation: IsolationSingleUser, Dir: t.TempDir()}, ws: map[string]*instance{}}
	alice, bob := b.dirOf(identity.WorkspaceName("alice")), b.dirOf(identity.WorkspaceName("bob"))
	os.MkdirAll(alice, 0o700)
	os.MkdirAll(bob, 0o700)
	if cred, err := b.credentialFor(identity.Identity{User: "alice"}, "", alice); err != nil || cred != nil {
		t.Fatalf("first user: %+v %v", cred, err)
	}
	if _, err := b.credentialFor(identity.Identity{User: "alice"}, "", alice); err != nil {
		t.Fatalf("same user again: %v", err)
	}
	_, err := b.credentialFor(identity.Identity{User: "bob"}, "", bob)
	if !errors.Is(err, backend.ErrRefused) || !strings.Contains(err.Error(), "alice") || !strings.Contains(err.Error(), "--shared-unix-user") {
		t.Fatalf("second user: %v", err)
	}
	b.cfg.Isolation = IsolationSharedUID
	if _, err := b.credentialFor(identity.Identity{User: "bob"}, "", bob); err != nil {
		t.Fatalf("shared uid team: %v", err)
	}
}

// TestRuntimeStagedForWorkspaceUsers: a code-server tree under a 0700 directory (the
// install cache in root's home) is staged so an unprivileged uid can run it.
func TestRuntimeStagedForWorkspaceUsers(t *testing.T) {
	needRoot(t)
	dir := testkit.TraversableTempDir(t)
	private := filepath.Join(dir, "private")
	tree := filepath.Join(private, "code-server-1")
	os.MkdirAll(filepath.Join(tree, "lib"), 0o755)
	os.Chmod(private, 0o700)
	launcher := filepath.Join(tree, "code-server")
	os.WriteFile(launcher, []byte("#!/bin/sh\ncat \"$(dirname \"$0\")/lib/data\" \"$(dirname \"$0\")/lib/secretish\"\n"), 0o755)
	os.WriteFile(filepath.Join(tree, "lib", "data"), []byte("shared "), 0o644)
	os.WriteFile(filepath.Join(tree, "lib", "secretish"), []byte("umask-077-file"), 0o600)
	runtime := filepath.Join(dir, "state", "runtime")
	staged, err := stageLauncher(runtime, launcher)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(staged, runtime) {
		t.Fatalf("not staged: %s", staged)
	}
	out, err := runAs(65000, staged)
	if err != nil || string(out) != "shared umask-077-file" {
		t.Fatalf("as uid 65000: %q %v", out, err)
	}
	a, _ := os.Stat(filepath.Join(tree, "lib", "data"))
	c, _ := os.Stat(filepath.Join(filepath.Dir(staged), "lib", "data"))
	if !os.SameFile(a, c) {
		t.Error("a readable file was copied instead of hard-linked")
	}
	if again, err := stageLauncher(runtime, launcher); err != nil || again != staged {
		t.Fatalf("restage: %s %v", again, err)
	}
	// A tree others can already reach is used where it is.
	os.Chmod(private, 0o755)
	os.Chmod(filepath.Join(tree, "lib", "secretish"), 0o644)
	if same, err := stageLauncher(runtime, launcher); err != nil || same != launcher {
		t.Fatalf("reachable tree staged anyway: %s %v", same, err)
	}
}

func runAs(uid uint32, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid, NoSetGroups: true}}
	cmd.Dir = "/"
	return cmd.Output()
}

// TestPortOwnerCheck: a loopback connection is kept only when the socket that accepted it
// belongs to the expected uid, and never when it is one of this process's own listeners.
func TestPortOwnerCheck(t *testing.T) {
	needRoot(t)
	port := listenAs(t, 65001)
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := checkAcceptor(conn, port, 65001); err != nil {
		t.Fatalf("the owner's port: %v", err)
	}
	if err := checkAcceptor(conn, port, 65002); !errors.Is(err, errNotYourPort) {
		t.Fatalf("another uid's port accepted: %v", err)
	}
	own, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	ownPort := own.Addr().(*net.TCPAddr).Port
	c2, err := net.Dial("tcp", own.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := checkAcceptor(c2, ownPort, uint32(os.Geteuid())); !errors.Is(err, errNotYourPort) || !strings.Contains(err.Error(), "gateway's own") {
		t.Fatalf("the gateway's own listener accepted: %v", err)
	}
}

// listenAs runs a TCP listener as uid that accepts and holds connections; returns its port.
func listenAs(t *testing.T, uid uint32) int {
	t.Helper()
	script := `import socket,sys,time
s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(16)
print(s.getsockname()[1], flush=True)
conns=[]
while True:
    c,_=s.accept(); conns.append(c)
`
	return testkit.PythonServerAs(t, int(uid), script)
}
