// Command v3iofuse stands in for the platform's v3io FUSE flexVolume driver on the test node
// (internal/testnode): installed as <volumePluginDir>/v3io~fuse/fuse, the kubelet calls it
// exactly as it calls the real driver (driver name v3io/fuse), and it mounts a real FUSE file
// system — a loopback over a host directory (go-fuse), one directory per data container —
// at the pod's volume directory. What it stands for, and what it does not:
//
//   - init answers {"status":"Success","capabilities":{"attach":false}} and, like a driver
//     that does not opt out, leaves fsGroup handling to the kubelet (which then changes the
//     group of the mounted tree unless the pod's fsGroupChangePolicy says otherwise);
//   - mount <dir> <json> checks the access key (kubernetes.io/secret/accessKey, from the
//     volume's secretRef) against the stand-in's table of platform users, creates
//     dirsToCreate owned by that user (as the platform does), starts the FUSE daemon as its
//     own session with its output in a log file (never the driver's stdout, which the
//     kubelet reads to the end), waits for the mount, and answers;
//   - unmount <dir> unmounts (the daemon then exits);
//   - anything else is "Not supported".
//
// The real driver talks to v3io over the network with the key; this one serves files from
// <root>/<container>/... on this machine. Its configuration is standin.json beside the
// executable (Config). Secrets are never written to its log or its answers.
package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Config is standin.json.
type Config struct {
	// Root holds one directory per data container (what /v3io shows).
	Root string `json:"root"`
	// Users maps an access key to the platform user it belongs to.
	Users map[string]User `json:"users"`
}

// User is a platform user as the stand-in knows it.
type User struct {
	Name string `json:"name"`
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`
}

// result is the driver's answer on stdout.
type result struct {
	Status       string          `json:"status"`
	Message      string          `json:"message,omitempty"`
	Capabilities map[string]bool `json:"capabilities,omitempty"`
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		if err := serve(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "v3iofuse serve:", err)
			os.Exit(1)
		}
		return
	}
	res := call(os.Args[1:])
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
	if res.Status == "Failure" {
		os.Exit(1)
	}
}

func dir() string {
	exe, err := os.Executable()
	if err != nil {
		return "."
	}
	return filepath.Dir(exe)
}

// logCall appends one line per call to calls.log beside the executable: the command, the
// mount dir and the option keys (never their values: they include the secret).
func logCall(format string, args ...any) {
	f, err := os.OpenFile(filepath.Join(dir(), "calls.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s "+format+"\n", append([]any{time.Now().UTC().Format(time.RFC3339Nano)}, args...)...)
}

func call(args []string) result {
	if len(args) == 0 {
		return result{Status: "Failure", Message: "no command"}
	}
	switch args[0] {
	case "init":
		logCall("init")
		return result{Status: "Success", Capabilities: map[string]bool{"attach": false}}
	case "mount":
		if len(args) != 3 {
			return result{Status: "Failure", Message: "usage: mount <dir> <json options>"}
		}
		var opts map[string]string
		if err := json.Unmarshal([]byte(args[2]), &opts); err != nil {
			return result{Status: "Failure", Message: "options are not JSON: " + err.Error()}
		}
		logCall("mount %s fsGroup=%q keys=%s", args[1], opts["kubernetes.io/mounterArgs.FsGroup"], strings.Join(slices.Sorted(maps.Keys(opts)), ","))
		if err := mount(args[1], opts); err != nil {
			logCall("mount %s failed: %v", args[1], err)
			return result{Status: "Failure", Message: err.Error()}
		}
		return result{Status: "Success"}
	case "unmount":
		if len(args) != 2 {
			return result{Status: "Failure", Message: "usage: unmount <dir>"}
		}
		logCall("unmount %s", args[1])
		if err := unmount(args[1]); err != nil {
			return result{Status: "Failure", Message: err.Error()}
		}
		return result{Status: "Success"}
	}
	return result{Status: "Not supported"}
}

func loadConfig() (Config, error) {
	var c Config
	b, err := os.ReadFile(filepath.Join(dir(), "standin.json"))
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, err
	}
	if c.Root == "" {
		return c, errors.New("standin.json: no root")
	}
	return c, nil
}

// dirToCreate is one entry of the dirsToCreate option (as the platform's Jupyter renders it).
type dirToCreate struct {
	Name        string `json:"name"`
	Permissions uint32 `json:"permissions"`
}

// source resolves the host directory the mount serves: the root, or one container, and a
// sub-path within it (cleaned: a name cannot leave the root).
func source(c Config, opts map[string]string) string {
	src := c.Root
	for _, part := range []string{opts["container"], opts["subPath"]} {
		if part == "" {
			continue
		}
		clean := filepath.Clean("/" + part)
		if clean == "/" {
			continue
		}
		src = filepath.Join(src, clean)
	}
	return src
}

func mount(target string, opts map[string]string) error {
	c, err := loadConfig()
	if err != nil {
		return fmt.Errorf("v3io stand-in configuration: %w", err)
	}
	enc := opts["kubernetes.io/secret/accessKey"]
	if enc == "" {
		return errors.New("no access key: the volume's secretRef Secret has no accessKey")
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return errors.New("access key is not base64 (kubernetes.io/secret/accessKey)")
	}
	user, ok := c.Users[strings.TrimSpace(string(key))]
	if !ok {
		return errors.New("v3io: access key rejected (401 Unauthorized)")
	}
	src := source(c, opts)
	if st, err := os.Stat(src); err != nil || !st.IsDir() {
		return fmt.Errorf("v3io: container or path %q does not exist", strings.TrimPrefix(src, c.Root))
	}
	if raw := opts["dirsToCreate"]; raw != "" {
		var dirs []dirToCreate
		if err := json.Unmarshal([]byte(raw), &dirs); err != nil {
			return fmt.Errorf("dirsToCreate is not a JSON list: %v", err)
		}
		for _, d := range dirs {
			if err := createDir(src, d, user); err != nil {
				return err
			}
		}
	}
	if mounted(target) {
		return nil // the kubelet retries mount after a timeout of its own: idempotent
	}
	if err := os.MkdirAll(target, 0o750); err != nil {
		return err
	}
	logDir := filepath.Join(dir(), "daemons")
	if err := os.MkdirAll(logDir, 0o700); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(logDir, filepath.Base(filepath.Dir(filepath.Dir(target)))+"-"+filepath.Base(target)+".log"),
		os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	// The daemon must not hold the driver's stdout: the kubelet reads it to EOF and sets no
	// timeout on a mount call, so a held pipe would hang the pod's start for ever.
	cmd := exec.Command(exe, "serve", src, target)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(20 * time.Second)
	for !mounted(target) {
		select {
		case err := <-exited:
			return fmt.Errorf("v3io FUSE daemon exited before mounting: %v (log %s)", err, logf.Name())
		case <-deadline:
			_ = cmd.Process.Kill()
			return errors.New("v3io FUSE daemon did not mount within 20 s")
		case <-time.After(50 * time.Millisecond):
		}
	}
	_ = cmd.Process.Release()
	return nil
}

// createDir makes one dirsToCreate entry (relative to the mount; "users//alice" is
// users/alice) with its permissions, owned by the access key's user, as the platform does.
func createDir(src string, d dirToCreate, u User) error {
	clean := filepath.Clean("/" + d.Name)
	if clean == "/" {
		return nil
	}
	p := src
	for _, part := range strings.Split(strings.TrimPrefix(clean, "/"), "/") {
		p = filepath.Join(p, part)
		if err := os.Mkdir(p, os.FileMode(d.Permissions)&os.ModePerm); err == nil {
			if err := os.Chown(p, u.UID, u.GID); err != nil {
				return err
			}
			if err := os.Chmod(p, os.FileMode(d.Permissions)&os.ModePerm); err != nil {
				return err
			}
		} else if !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("dirsToCreate %q: %v", d.Name, err)
		}
	}
	return nil
}

func unmount(target string) error {
	if !mounted(target) {
		return nil
	}
	if err := syscall.Unmount(target, 0); err != nil {
		// Busy (a process of the pod still has a file open): detach it; the daemon goes
		// once the last user does.
		if err := syscall.Unmount(target, syscall.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount %s: %v", target, err)
		}
	}
	return nil
}

// mounted reports whether target is a mount point of a FUSE file system (mountinfo).
func mounted(target string) bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || fields[4] != target {
			continue
		}
		for i, f := range fields {
			if f == "-" && i+1 < len(fields) && strings.HasPrefix(fields[i+1], "fuse") {
				return true
			}
		}
	}
	return false
}

// serve is the daemon: a loopback FUSE file system of src at target (type fuse.v3io), open
// to every uid (allow_other) with the kernel checking permissions (default_permissions), as
// the platform's mount is to the pod's user. Files created through it are owned by their
// creator. It runs until the mount goes away.
func serve(args []string) error {
	if len(args) != 2 {
		return errors.New("usage: serve <source dir> <mount point>")
	}
	root, err := fs.NewLoopbackRoot(args[0])
	if err != nil {
		return err
	}
	sec := time.Second
	server, err := fs.Mount(args[1], root, &fs.Options{
		AttrTimeout: &sec, EntryTimeout: &sec,
		MountOptions: fuse.MountOptions{
			AllowOther: true, FsName: "v3io", Name: "v3io", DirectMountStrict: true,
			Options: []string{"default_permissions"},
		},
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = server.Unmount()
	}()
	server.Wait()
	return nil
}
