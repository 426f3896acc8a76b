package local

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/codehub-dev/codehub/internal/agent"
)

// How a workspace's process is launched: its log, its command line and its environment.

// spawn starts the workspace's command in its own process group, logging to its log file.
func (in *instance) spawn() (*exec.Cmd, chan struct{}, error) {
	logf, err := os.OpenFile(in.logPath(), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("workspace log: %w", err)
	}
	cmd := in.command()
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
// code-server listens on the unix socket only, requires the credential, and serves no
// /proxy/ routes of its own (the gateway serves ports on their own origins).
func (in *instance) command() *exec.Cmd {
	grace := strconv.Itoa(int(in.cfg.ReconnectionGrace / time.Second))
	listen := []string{"--socket", in.socket(), "--socket-mode", "600", "--auth", "password", "--disable-proxy"}
	var cmd *exec.Cmd
	if in.cfg.Init != "" {
		args := append(listen,
			"--code-server", in.cfg.CodeServer, "--home", in.home(),
			"--state-dir", in.initState(), "--user-data-dir", in.dataDir(), "--extensions-dir", in.extensions(),
			"--folder", in.folder(), "--serviceaccount-dir", filepath.Join(in.dir, "no-serviceaccount"),
			"--reconnection-grace-time", grace,
			"--conda-envs-dirs", filepath.Join(in.home(), ".conda", "envs"),
		)
		if in.cfg.BuiltinExtensionsDir != "" {
			args = append(args, "--builtin-extensions-dir", in.cfg.BuiltinExtensionsDir)
		}
		if x := in.profile.Extensions; len(x) > 0 {
			args = append(args, "--extensions", strings.Join(x, ","))
		}
		cmd = exec.Command(in.cfg.Init, args...)
	} else {
		cmd = exec.Command(in.cfg.CodeServer, append(listen,
			"--user-data-dir", in.dataDir(), "--extensions-dir", in.extensions(),
			"--disable-telemetry", "--disable-update-check", "--disable-workspace-trust",
			"--reconnection-grace-time", grace, in.folder())...)
	}
	cmd.Dir = in.folder()
	// The profile's env first: exec keeps the last of duplicate names, so it never
	// replaces HOME, the credential or the agent's variables below.
	cmd.Env = append(profileEnv(in.profile), []string{
		"HOME=" + in.home(),
		"XDG_CONFIG_HOME=" + filepath.Join(in.home(), ".config"),
		"XDG_DATA_HOME=" + filepath.Join(in.home(), ".local", "share"),
		"XDG_CACHE_HOME=" + filepath.Join(in.home(), ".cache"),
		"PATH=" + os.Getenv("PATH"),
		"SHELL=" + shell(),
		"LANG=" + envOr("LANG", "C.UTF-8"),
		agent.EnvUser + "=" + in.user,
		agent.EnvWorkspace + "=" + in.named,
		// code-server reads it and removes it from its environment, so terminals and
		// extensions never inherit it.
		"HASHED_PASSWORD=" + in.secret,
		// What the codehub extension talks to the gateway with: its own workspace only.
		agent.EnvToken + "=" + agent.Token(agent.Subject(in.user, in.named), in.secret),
	}...)
	if in.cfg.AgentURL != "" {
		cmd.Env = append(cmd.Env, agent.EnvURL+"="+in.cfg.AgentURL)
	}
	if in.cfg.PublicURL != "" {
		cmd.Env = append(cmd.Env, agent.EnvPublicURL+"="+in.cfg.PublicURL)
	}
	if in.cfg.PortProxyURI != nil {
		cmd.Env = append(cmd.Env, "VSCODE_PROXY_URI="+in.cfg.PortProxyURI(in.name))
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
