package serve

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The local backend's code-server: which releases it runs, and the check at start-up.

// MinCodeServer is the oldest code-server release the local backend supports (it needs
// --reconnection-grace-time).
var MinCodeServer = [3]int{4, 103, 0}

var versionRE = regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)`)

// CheckCodeServer runs `code-server --version` and rejects a missing binary or a
// release older than MinCodeServer, with one line saying what to do.
// scratch becomes the probe's HOME: code-server writes a config file on every run.
func CheckCodeServer(path, scratch string) (string, error) {
	if path == "" {
		return "", errors.New("code-server not found: pass --code-server PATH or set CODEHUB_CODE_SERVER (make run installs it)")
	}
	if _, err := exec.LookPath(path); err != nil {
		return "", fmt.Errorf("code-server not found at %q: pass --code-server PATH or set CODEHUB_CODE_SERVER (make run installs it)", path)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := os.MkdirAll(scratch, 0o700); err != nil {
		return "", fmt.Errorf("scratch dir: %w", err)
	}
	cmd := exec.CommandContext(ctx, path, "--version")
	cmd.Env = []string{"HOME=" + scratch, "XDG_CONFIG_HOME=" + scratch, "XDG_DATA_HOME=" + scratch, "PATH=" + os.Getenv("PATH")}
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("code-server at %q does not run (`--version` failed: %v)", path, err)
	}
	// The first run of a fresh HOME logs "Wrote default config file" before the version.
	var mm []string
	line := strings.TrimSpace(string(out))
	for _, l := range strings.Split(line, "\n") {
		if mm = versionRE.FindStringSubmatch(strings.TrimSpace(l)); mm != nil {
			break
		}
	}
	if mm == nil {
		return "", fmt.Errorf("code-server at %q printed an unexpected version %q", path, line)
	}
	var v [3]int
	for i := range v {
		v[i], _ = strconv.Atoi(mm[i+1])
	}
	if v[0] < MinCodeServer[0] || (v[0] == MinCodeServer[0] && v[1] < MinCodeServer[1]) {
		return "", fmt.Errorf("code-server %s at %q is unsupported: need %d.%d or newer", mm[0], path, MinCodeServer[0], MinCodeServer[1])
	}
	return mm[0], nil
}

func unwrapSyscall(err error) error {
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
