package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/idle"
	"github.com/codehub-dev/codehub/internal/procstat"
	"github.com/codehub-dev/codehub/internal/profile"
)

const (
	ownerFile = "owner" // the owner's name, as versions before owner.json wrote it
	pidFile   = "code-server.pid"
	logFile   = "code-server.log"
	// socketName is code-server's socket in the workspace's socket directory.
	socketName = "cs.sock"
	// maxSocketPath is sun_path's limit (108 bytes with the terminating NUL).
	maxSocketPath = 107
)

// instance is one workspace's process and lifecycle. The state machine is
// Stopped → Starting → Running → Stopping → Stopped, with Failed after a start that
// never became healthy.
type instance struct {
	name, user, dir string
	named           string // the name among its owner's workspaces ("" = the default)
	sockDir         string // code-server's socket lives here: its unix user (and root) only
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
	// secret is this run's credential: code-server's HASHED_PASSWORD and the session
	// cookie the gateway presents. New on every start.
	secret string
	// running is when the current run became Running; activity its stored activity mark
	// (the one value the idle stop and the API read); meter samples its CPU (idle.go).
	running  time.Time
	activity idle.Activity
	meter    procstat.Meter
	// profile is the profile of the current start (env, idle timeout, extensions); notice
	// says when it replaced the recorded one (profile.go).
	profile profile.Profile
	notice  string
	// recorded and created mirror the owner record's profile and creation time, so Get
	// does not read owner.json.
	recorded string
	created  time.Time
}

func (in *instance) snapshot() backend.Workspace {
	in.mu.Lock()
	defer in.mu.Unlock()
	w := backend.Workspace{Name: in.name, User: in.user, Named: in.named, State: in.state, Message: in.message,
		LastActivity: in.activity.Last(), IdleTimeout: in.idleTimeout(), Notice: in.notice,
		Profile: in.recorded, Created: in.created}
	if in.state != backend.StateStopped && in.profile.Name != "" {
		w.Profile = in.profile.Name // what this run has; a SetProfile since applies next time
	}
	if in.state == backend.StateRunning {
		w.Endpoint, w.Credential = in.endpoint, in.secret
		w.StopsAt, w.StopReason = idle.Deadline(w.LastActivity, in.running, w.IdleTimeout, in.cfg.MaxRunTime)
	}
	return w
}

func (in *instance) credential() *syscall.Credential {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.cred
}

func (in *instance) setState(s backend.State, msg string) {
	in.mu.Lock()
	in.state, in.message = s, msg
	in.mu.Unlock()
}

// start begins starting the workspace unless it is already starting or running. resolve
// decides the unix ids it runs as (from its owner's record); a refusal fails the start.
func (in *instance) start(resolve func() (*syscall.Credential, error)) error {
	in.mu.Lock()
	switch in.state {
	case backend.StateStarting, backend.StateRunning:
		in.mu.Unlock()
		return nil
	case backend.StateStopping:
		in.mu.Unlock()
		return errors.New("workspace is stopping; try again in a moment")
	}
	in.state, in.message, in.stopping = backend.StateStarting, "starting code-server", false
	done := make(chan struct{})
	in.runDone = done
	in.mu.Unlock()

	err := os.MkdirAll(in.dir, 0o700)
	var cred *syscall.Credential
	if err == nil {
		cred, err = resolve()
	}
	if err == nil {
		in.mu.Lock()
		in.cred, in.secret = cred, newSecret()
		in.mu.Unlock()
		err = in.prepareDirs()
	}
	if err != nil {
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

// newSecret returns 256 random bits as hex: never contains "$argon", so code-server
// compares the session cookie with it as it is.
func newSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux; never start with a weak secret
	}
	return hex.EncodeToString(b)
}

func (in *instance) home() string       { return filepath.Join(in.dir, "home") }
func (in *instance) folder() string     { return filepath.Join(in.home(), "workspace") }
func (in *instance) dataDir() string    { return filepath.Join(in.dir, "data") }
func (in *instance) extensions() string { return filepath.Join(in.dir, "extensions") }

// initState is codehub-init's state dir (applied settings defaults, extension pins, the
// codehub extension's VSIX): the workspace's own, since codehub-init runs as its uid.
func (in *instance) initState() string { return filepath.Join(in.dir, "state") }

func (in *instance) socket() string { return filepath.Join(in.sockDir, socketName) }

func (in *instance) prepareDirs() error {
	for _, d := range []string{in.dir, in.folder(), in.dataDir(), in.extensions(), in.initState(), in.sockDir,
		filepath.Join(in.home(), ".config"), filepath.Join(in.home(), ".local", "share"), filepath.Join(in.home(), ".cache")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("workspace dir: %w", err)
		}
	}
	if err := os.Remove(in.socket()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("stale socket: %w", err)
	}
	if in.cred != nil {
		return in.chownTree()
	}
	return nil
}

// run launches code-server, waits for /healthz and then for the process to exit.
func (in *instance) run() {
	spawned := time.Now()
	cmd, exited, err := in.spawn()
	if err == nil {
		if in.waitHealthy(exited) {
			in.mu.Lock()
			if !in.stopping {
				in.state, in.message, in.endpoint = backend.StateRunning, "", socketURL(in.socket())
				// A start is activity: a workspace started by the API or CLI and never
				// visited stops one idle timeout later.
				in.running = in.cfg.Clock.Now()
				in.activity.Touch(in.running)
				in.meter = procstat.Meter{}
			}
			in.mu.Unlock()
			if in.cfg.OnReady != nil {
				in.cfg.OnReady(time.Since(spawned))
			}
			in.cfg.Logger.Info("workspace running", "workspace", in.name, "socket", in.socket(), "startup", time.Since(spawned).Round(time.Millisecond))
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
			err = fmt.Errorf("code-server exited during start: %s", describeExit(cmd, in.logPath()))
		default:
			err = fmt.Errorf("code-server did not answer /healthz within %s", in.cfg.StartTimeout)
			in.kill(cmd.Process, exited)
		}
	}
	in.mu.Lock()
	in.state, in.message, in.proc, in.endpoint = backend.StateFailed, err.Error(), nil, nil
	in.mu.Unlock()
	in.cfg.Logger.Error("workspace failed to start", "workspace", in.name, "err", err)
}

func (in *instance) finish(cmd *exec.Cmd, msg string) {
	_ = os.Remove(filepath.Join(in.dir, pidFile))
	in.mu.Lock()
	in.state, in.message, in.proc, in.endpoint = backend.StateStopped, msg, nil, nil
	in.mu.Unlock()
	in.cfg.Logger.Info("workspace stopped", "workspace", in.name, "exit", cmd.ProcessState.String())
}

// chownTree gives the workspace's files to the unix ids it runs as. The directory
// itself stays the gateway's (it holds the owner record, pid and log files); its 0711 mode
// lets the workspace reach its own subdirectories only. The socket directory is the
// workspace's, 0700: no other workspace uid can connect to its code-server.
func (in *instance) chownTree() error {
	uid, gid := int(in.cred.Uid), int(in.cred.Gid)
	if err := os.Chmod(in.dir, 0o711); err != nil {
		return err
	}
	for _, top := range []string{in.home(), in.dataDir(), in.extensions(), in.initState(), in.sockDir} {
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

// waitHealthy polls /healthz on the socket until it answers 200, the process exits, the
// start times out or a stop is requested.
func (in *instance) waitHealthy(exited <-chan struct{}) bool {
	sock := in.socket()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
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
		if resp, err := client.Get("http://workspace/healthz"); err == nil {
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

// markStopping reports the workspace as stopping before stop is called.
func (in *instance) markStopping() {
	in.mu.Lock()
	in.stopping = true
	if in.state == backend.StateRunning || in.state == backend.StateStarting {
		in.state, in.message = backend.StateStopping, "stopping"
	}
	in.mu.Unlock()
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
