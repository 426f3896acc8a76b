package local

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/codehub-dev/codehub/internal/backend"
)

const (
	ownerFile = "owner"
	pidFile   = "code-server.pid"
	logFile   = "code-server.log"
	// startAttempts covers the window between picking a free port and code-server
	// binding it, in which another process may take the port.
	startAttempts = 3
)

// instance is one workspace's process and lifecycle. The state machine is
// Stopped → Starting → Running → Stopping → Stopped, with Failed after a start that
// never became healthy.
type instance struct {
	name, user, dir string
	cfg             *Config

	mu       sync.Mutex
	state    backend.State
	endpoint *url.URL
	message  string
	proc     *os.Process
	exited   chan struct{} // closed when the current process has exited
	runDone  chan struct{} // closed when the current run (all attempts) has finished
	stopping bool
	cred     *syscall.Credential // run as these unix ids (nil = the gateway's own)
}

func (in *instance) snapshot() backend.Workspace {
	in.mu.Lock()
	defer in.mu.Unlock()
	w := backend.Workspace{Name: in.name, User: in.user, State: in.state, Message: in.message}
	if in.state == backend.StateRunning {
		w.Endpoint = in.endpoint
	}
	return w
}

func (in *instance) setState(s backend.State, msg string) {
	in.mu.Lock()
	in.state, in.message = s, msg
	in.mu.Unlock()
}

// start begins starting the workspace unless it is already starting or running.
func (in *instance) start(cred *syscall.Credential) error {
	in.mu.Lock()
	switch in.state {
	case backend.StateStarting, backend.StateRunning:
		in.mu.Unlock()
		return nil
	case backend.StateStopping:
		in.mu.Unlock()
		return errors.New("workspace is stopping; try again in a moment")
	}
	in.state, in.message, in.stopping, in.cred = backend.StateStarting, "starting code-server", false, cred
	done := make(chan struct{})
	in.runDone = done
	in.mu.Unlock()

	if err := in.prepareDirs(); err != nil {
		in.setState(backend.StateFailed, err.Error())
		close(done)
		return err
	}
	go func() {
		defer close(done)
		in.run()
	}()
	return nil
}

func (in *instance) home() string       { return filepath.Join(in.dir, "home") }
func (in *instance) folder() string     { return filepath.Join(in.home(), "workspace") }
func (in *instance) dataDir() string    { return filepath.Join(in.dir, "data") }
func (in *instance) extensions() string { return filepath.Join(in.dir, "extensions") }

func (in *instance) prepareDirs() error {
	for _, d := range []string{in.dir, in.folder(), in.dataDir(), in.extensions(),
		filepath.Join(in.home(), ".config"), filepath.Join(in.home(), ".local", "share"), filepath.Join(in.home(), ".cache")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("workspace dir: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(in.dir, ownerFile), []byte(in.user+"\n"), 0o600); err != nil {
		return fmt.Errorf("workspace owner file: %w", err)
	}
	if in.cred != nil {
		return in.chownTree()
	}
	return nil
}

// run launches code-server (retrying when the chosen port was taken meanwhile), waits
// for /healthz and then for the process to exit.
func (in *instance) run() {
	spawned := time.Now()
	var lastErr error
	for attempt := 0; attempt < startAttempts; attempt++ {
		port, err := freePort()
		if err != nil {
			lastErr = err
			break
		}
		cmd, exited, err := in.spawn(port)
		if err != nil {
			lastErr = err
			break
		}
		healthy := in.waitHealthy(port, exited)
		if healthy {
			in.mu.Lock()
			if !in.stopping {
				in.state, in.message, in.endpoint = backend.StateRunning, "", endpointURL(port)
			}
			in.mu.Unlock()
			if in.cfg.OnReady != nil {
				in.cfg.OnReady(time.Since(spawned))
			}
			in.cfg.Logger.Info("workspace running", "workspace", in.name, "port", port, "startup", time.Since(spawned).Round(time.Millisecond))
			<-exited
			in.finish(cmd, "")
			return
		}
		in.mu.Lock()
		stopping := in.stopping
		in.mu.Unlock()
		if stopping {
			in.kill(cmd.Process, exited)
			in.finish(cmd, "")
			return
		}
		select {
		case <-exited:
			lastErr = fmt.Errorf("code-server exited during start: %s", describeExit(cmd, in.logPath()))
		default:
			lastErr = fmt.Errorf("code-server did not answer /healthz within %s", in.cfg.StartTimeout)
			in.kill(cmd.Process, exited)
		}
		in.cfg.Logger.Warn("workspace start attempt failed", "workspace", in.name, "attempt", attempt+1, "err", lastErr)
	}
	in.mu.Lock()
	in.state, in.message, in.proc, in.endpoint = backend.StateFailed, lastErr.Error(), nil, nil
	in.mu.Unlock()
	in.cfg.Logger.Error("workspace failed to start", "workspace", in.name, "err", lastErr)
}

func (in *instance) finish(cmd *exec.Cmd, msg string) {
	_ = os.Remove(filepath.Join(in.dir, pidFile))
	in.mu.Lock()
	in.state, in.message, in.proc, in.endpoint = backend.StateStopped, msg, nil, nil
	in.mu.Unlock()
	in.cfg.Logger.Info("workspace stopped", "workspace", in.name, "exit", cmd.ProcessState.String())
}

// chownTree gives the workspace's files to the unix ids it runs as. The directory
// itself stays the gateway's (it holds the pid and log files); its 0711 mode lets the
// workspace reach its own subdirectories only.
func (in *instance) chownTree() error {
	uid, gid := int(in.cred.Uid), int(in.cred.Gid)
	if err := os.Chmod(in.dir, 0o711); err != nil {
		return err
	}
	for _, top := range []string{in.home(), in.dataDir(), in.extensions()} {
		if st, err := os.Stat(top); err == nil {
			if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) == uid && int(sys.Gid) == gid {
				continue // already owned: skip walking a large tree on every start
			}
		}
		err := filepath.WalkDir(top, func(p string, _ os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, uid, gid)
		})
		if err != nil {
			return fmt.Errorf("give workspace files to uid %d: %w", uid, err)
		}
	}
	return nil
}

func (in *instance) logPath() string { return filepath.Join(in.dir, logFile) }

func (in *instance) spawn(port int) (*exec.Cmd, chan struct{}, error) {
	logf, err := os.OpenFile(in.logPath(), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("workspace log: %w", err)
	}
	cmd := in.command(port)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Own process group: stop signals reach code-server's helpers too. Pdeathsig stops
	// the tree if the gateway dies; a later gateway also sweeps orphans (see orphans.go).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM, Credential: in.cred}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, nil, fmt.Errorf("start code-server: %w", err)
	}
	logf.Close()
	pid := cmd.Process.Pid
	_ = os.WriteFile(filepath.Join(in.dir, pidFile), []byte(strconv.Itoa(pid)+"\n"), 0o600)
	exited := make(chan struct{})
	in.mu.Lock()
	in.proc, in.exited = cmd.Process, exited
	in.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	return cmd, exited, nil
}

// command builds the code-server (or codehub-init) command line and a minimal
// environment: the gateway's own environment may hold secrets and is not passed on.
func (in *instance) command(port int) *exec.Cmd {
	bind := fmt.Sprintf("127.0.0.1:%d", port)
	grace := strconv.Itoa(int(in.cfg.ReconnectionGrace / time.Second))
	var cmd *exec.Cmd
	if in.cfg.Init != "" {
		args := []string{
			"--code-server", in.cfg.CodeServer, "--bind-addr", bind, "--home", in.home(),
			"--state-dir", in.dir, "--user-data-dir", in.dataDir(), "--extensions-dir", in.extensions(),
			"--folder", in.folder(), "--serviceaccount-dir", filepath.Join(in.dir, "no-serviceaccount"),
			"--reconnection-grace-time", grace,
			"--conda-envs-dirs", filepath.Join(in.home(), ".conda", "envs"),
		}
		if in.cfg.BuiltinExtensionsDir != "" {
			args = append(args, "--builtin-extensions-dir", in.cfg.BuiltinExtensionsDir)
		}
		cmd = exec.Command(in.cfg.Init, args...)
	} else {
		cmd = exec.Command(in.cfg.CodeServer,
			"--bind-addr", bind, "--auth", "none",
			"--user-data-dir", in.dataDir(), "--extensions-dir", in.extensions(),
			"--disable-telemetry", "--disable-update-check", "--disable-workspace-trust",
			"--reconnection-grace-time", grace, in.folder())
	}
	cmd.Dir = in.folder()
	cmd.Env = []string{
		"HOME=" + in.home(),
		"XDG_CONFIG_HOME=" + filepath.Join(in.home(), ".config"),
		"XDG_DATA_HOME=" + filepath.Join(in.home(), ".local", "share"),
		"XDG_CACHE_HOME=" + filepath.Join(in.home(), ".cache"),
		"PATH=" + os.Getenv("PATH"),
		"SHELL=" + shell(),
		"LANG=" + envOr("LANG", "C.UTF-8"),
		"CODEHUB_USER=" + in.user,
	}
	return cmd
}

func shell() string {
	if _, err := os.Stat("/bin/bash"); err == nil {
		return "/bin/bash"
	}
	return "/bin/sh"
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// waitHealthy polls /healthz until it answers 200, the process exits, the start times
// out or a stop is requested.
func (in *instance) waitHealthy(port int, exited <-chan struct{}) bool {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	u := endpointURL(port).String() + "/healthz"
	deadline := time.Now().Add(in.cfg.StartTimeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		in.mu.Lock()
		stopping := in.stopping
		in.mu.Unlock()
		if stopping {
			return false
		}
		if resp, err := client.Get(u); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
		select {
		case <-exited:
			return false
		case <-tick.C:
		}
	}
	return false
}

// stop signals the process group and waits for the exit.
func (in *instance) stop(ctx context.Context) error {
	in.mu.Lock()
	proc, exited, runDone := in.proc, in.exited, in.runDone
	in.stopping = true
	if in.state == backend.StateRunning || in.state == backend.StateStarting {
		in.state, in.message = backend.StateStopping, "stopping"
	}
	in.mu.Unlock()
	if proc != nil {
		in.cfg.Logger.Info("stopping workspace", "workspace", in.name)
		if err := in.killCtx(ctx, proc, exited); err != nil {
			return err
		}
	}
	if runDone != nil {
		select {
		case <-runDone:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (in *instance) kill(proc *os.Process, exited <-chan struct{}) {
	_ = in.killCtx(context.Background(), proc, exited)
}

// killCtx sends SIGTERM to the process group, then SIGKILL after the grace period.
func (in *instance) killCtx(ctx context.Context, proc *os.Process, exited <-chan struct{}) error {
	_ = syscall.Kill(-proc.Pid, syscall.SIGTERM)
	grace := time.NewTimer(in.cfg.StopGrace)
	defer grace.Stop()
	select {
	case <-exited:
		return nil
	case <-grace.C:
	case <-ctx.Done():
	}
	_ = syscall.Kill(-proc.Pid, syscall.SIGKILL)
	select {
	case <-exited:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("workspace %s: process %d did not exit after SIGKILL", in.name, proc.Pid)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// describeExit names the exit status and the last line code-server logged.
func describeExit(cmd *exec.Cmd, log string) string {
	msg := "unknown exit"
	if cmd.ProcessState != nil {
		msg = cmd.ProcessState.String()
	}
	if last := lastLine(log); last != "" {
		msg += ": " + last
	}
	return msg
}
