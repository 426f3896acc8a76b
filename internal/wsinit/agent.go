package wsinit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/codehub-dev/codehub/internal/agent"
	"github.com/codehub-dev/codehub/internal/codehubext"
	"github.com/codehub-dev/codehub/internal/procstat"
)

// What codehub-init does for the gateway's agent API (internal/agent):
//
//   - the codehub extension's VSIX (internal/codehubext, compiled in) is written into the
//     state dir and installed with the builtin extensions;
//   - CODEHUB_AGENT_TOKEN is derived from the credential when the pod's environment does
//     not carry it (the local backend sets it; on Kubernetes it is computed here, so the
//     credential itself never reaches code-server's children);
//   - with CODEHUB_REPORT_BUSY=true (the operator's pods) a small reporter process runs
//     beside code-server and tells the gateway when the workspace's processes use CPU above
//     the busy threshold, so a training job keeps the pod running with no tab open. The
//     local backend measures CPU itself and does not ask for it.

// BusyReporterArg is argv[1] of the reporter process (codehub-init re-executed).
const BusyReporterArg = "__busy-reporter"

// Environment of the reporter.
const (
	EnvReportBusy    = "CODEHUB_REPORT_BUSY"    // "true": start the reporter
	EnvBusyCPU       = "CODEHUB_BUSY_CPU"       // threshold in cores (default DefaultBusyCPU)
	EnvBusyInterval  = "CODEHUB_BUSY_INTERVAL"  // sampling period (default 30s)
	envReporterOwner = "CODEHUB_REPORTER_OWNER" // the pid it watches (code-server, after exec)
)

// DefaultBusyCPU is the busy threshold in cores, the same as the local backend's.
const DefaultBusyCPU = 0.25

// WriteCodehubExtension writes the codehub extension's VSIX into dir (once per version)
// and returns its path.
func WriteCodehubExtension(dir string) (string, error) {
	data, m, err := codehubext.VSIX()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("codehub extension dir %s: %w", dir, unwrapPathErr(err))
	}
	path := dir + "/" + m.ID() + "-" + m.Version + ".vsix"
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return path, nil
	}
	if err := writeFileAtomic(path, data, 0o644); err != nil {
		return "", err
	}
	return path, nil
}

// SetAgentToken puts CODEHUB_AGENT_TOKEN into this process's environment (inherited by
// code-server and everything it starts) when it is missing and the credential and user
// are known. It reports whether a token is set.
func SetAgentToken(getenv func(string) string) bool {
	if getenv(agent.EnvToken) != "" {
		return true
	}
	user, cred := getenv(agent.EnvUser), getenv(EnvHashedPassword)
	if user == "" || cred == "" {
		return false
	}
	return os.Setenv(agent.EnvToken, agent.Token(agent.Subject(user, getenv(agent.EnvWorkspace)), cred)) == nil
}

// StartBusyReporter starts the reporter beside code-server (when asked for and an agent
// URL and token are set). It watches this process, which becomes code-server by exec.
func StartBusyReporter(getenv func(string) string, log io.Writer) {
	if v := strings.ToLower(getenv(EnvReportBusy)); v != "true" && v != "1" {
		return
	}
	if getenv(agent.EnvURL) == "" || getenv(agent.EnvToken) == "" {
		fmt.Fprintf(log, "codehub-init: warning: %s is set but %s or %s is not: busy work will not keep the workspace running\n", EnvReportBusy, agent.EnvURL, agent.EnvToken)
		return
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(log, "codehub-init: warning: busy reporter: %v\n", err)
		return
	}
	cmd := exec.Command(self, BusyReporterArg)
	cmd.Env = append(helperEnv(), envReporterOwner+"="+strconv.Itoa(os.Getpid()))
	cmd.Stdout, cmd.Stderr = log, log
	// Its own process group: signals meant for code-server's group do not reach it; it
	// exits by itself when code-server has gone.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(log, "codehub-init: warning: busy reporter: %v\n", err)
		return
	}
	fmt.Fprintf(log, "codehub-init: busy reporter %d started (CPU above %s cores keeps the workspace running)\n", cmd.Process.Pid, busyThreshold(getenv))
	_ = cmd.Process.Release()
}

func busyThreshold(getenv func(string) string) string {
	if v := getenv(EnvBusyCPU); v != "" {
		return v
	}
	return strconv.FormatFloat(DefaultBusyCPU, 'f', -1, 64)
}

// RunBusyReporter is the reporter: every interval it measures the CPU of the processes of
// its own unix user (in a pod, everything the workspace runs) other than itself, and when
// that is at least the threshold posts {"kind":"busy"} to the agent API. It returns when
// the watched process (code-server) is gone or ctx ends.
func RunBusyReporter(ctx context.Context, getenv func(string) string, log io.Writer) int {
	owner, _ := strconv.Atoi(getenv(envReporterOwner))
	threshold, err := strconv.ParseFloat(busyThreshold(getenv), 64)
	if err != nil || threshold <= 0 {
		fmt.Fprintf(log, "codehub-init busy reporter: bad %s %q\n", EnvBusyCPU, getenv(EnvBusyCPU))
		return 2
	}
	interval := 30 * time.Second
	if v := getenv(EnvBusyInterval); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			interval = d
		}
	}
	client := agentClient(getenv(agent.EnvURL))
	base, token := agentBase(getenv(agent.EnvURL)), getenv(agent.EnvToken)
	self, uid := os.Getpid(), os.Getuid()
	var meter procstat.Meter
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if owner > 0 && (os.Getppid() != owner || syscall.Kill(owner, 0) != nil) {
			return 0 // code-server has exited: the workspace is stopping
		}
		var procs []procstat.Proc
		for _, p := range procstat.OfUID(procstat.Scan(), uid) {
			if p.PID != self {
				procs = append(procs, p)
			}
		}
		if cores, ok := meter.Sample(procs, time.Now()); ok && cores >= threshold {
			if err := reportBusy(ctx, client, base, token, cores); err != nil {
				fmt.Fprintf(log, "codehub-init busy reporter: %v\n", err)
			}
		}
		select {
		case <-ctx.Done():
			return 0
		case <-tick.C:
		}
	}
}

func reportBusy(ctx context.Context, client *http.Client, base, token string, cores float64) error {
	body, _ := json.Marshal(map[string]any{"kind": "busy", "cores": cores})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/_codehub/agent/v1/activity", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("busy report: HTTP %d", resp.StatusCode)
	}
	return nil
}

// agentClient talks to CODEHUB_AGENT_URL: http(s)://host:port, or unix:/path.
func agentClient(u string) *http.Client {
	t := &http.Transport{}
	if path, ok := strings.CutPrefix(u, "unix:"); ok {
		t.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		}
	}
	return &http.Client{Transport: t, Timeout: 10 * time.Second}
}

func agentBase(u string) string {
	if strings.HasPrefix(u, "unix:") {
		return "http://agent"
	}
	return strings.TrimSuffix(u, "/")
}
