package wsinit

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// CodeServerArgs is code-server's command line (argv[0] included). Users authenticate at the
// gateway; with --auth password code-server additionally requires the gateway's
// per-workspace credential (from $HASHED_PASSWORD, never on the command line). The grace time
// is short because every closed browser tab otherwise keeps an extension host alive for
// code-server's default 3 h.
func CodeServerArgs(c *Config) []string {
	grace := int64((c.ReconnectionGraceTime + 999_999_999) / 1_000_000_000) // whole seconds, rounded up
	args := []string{c.CodeServer}
	if c.Socket != "" {
		args = append(args, "--socket", c.Socket)
		if c.SocketMode != "" {
			args = append(args, "--socket-mode", c.SocketMode)
		}
	} else {
		args = append(args, "--bind-addr", c.BindAddr)
	}
	args = append(args, "--auth", c.Auth)
	if c.DisableProxy {
		args = append(args, "--disable-proxy")
	}
	args = append(args,
		"--user-data-dir", c.UserDataDir,
		"--extensions-dir", c.ExtensionsDir,
		"--disable-telemetry",
		"--disable-update-check",
		"--disable-workspace-trust",
		"--reconnection-grace-time", strconv.FormatInt(grace, 10),
	)
	args = append(args, c.ExtraArgs...)
	return append(args, c.Folder)
}

// helperEnv is the environment of the helper code-server runs (extension installs): the
// process's own minus the credential, which only the serving code-server needs.
func helperEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != EnvHashedPassword && k != "PASSWORD" {
			env = append(env, kv)
		}
	}
	return env
}

// ExecCodeServer replaces this process with code-server, so the pod's or the local
// backend's signals reach code-server directly and no wrapper process lingers.
func ExecCodeServer(argv []string) error {
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return fmt.Errorf("code-server launcher %q (--code-server): %w", argv[0], unwrapExecErr(err))
	}
	if err := syscall.Exec(path, argv, os.Environ()); err != nil {
		return fmt.Errorf("exec code-server launcher %s: %w", path, err)
	}
	return nil // unreachable
}

func unwrapExecErr(err error) error {
	if ee, ok := err.(*exec.Error); ok {
		return ee.Err
	}
	return err
}

// ShellQuote renders argv as one copy-pasteable shell line (for --dry-run).
func ShellQuote(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+") == "" {
			parts[i] = a
		} else {
			parts[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(parts, " ")
}
