package testkit

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/codehub-dev/codehub/internal/procstat"
)

// KillLeftoverProcesses ends the processes a test binary left running and names them. Those
// are the processes that still have the binary's working directory as theirs once every
// test is done. A process a test starts inherits that directory unless it is given another.
// A leftover keeps using CPU and ports for the rest of `make test`: one code-server whose
// launcher alone was killed once used two thirds of a core for the later packages. Tests
// call this after m.Run and fail when it names anything. Processes still going away
// (being killed, not yet reaped) get up to grace to go.
func KillLeftoverProcesses(grace time.Duration) []string {
	var left []string
	deadline := time.Now().Add(grace)
	for {
		left = leftovers()
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond) // bounded: the deadline above
	}
	for _, l := range left {
		if pid, err := strconv.Atoi(strings.Fields(l)[0]); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	return left
}

func leftovers() []string {
	here, err := os.Getwd()
	if err != nil {
		return nil
	}
	var out []string
	for _, p := range procstat.Scan() {
		if p.PID == os.Getpid() || p.State == 'Z' {
			continue
		}
		dir := "/proc/" + strconv.Itoa(p.PID)
		if cwd, err := os.Readlink(dir + "/cwd"); err != nil || cwd != here {
			continue
		}
		cmdline, _ := os.ReadFile(dir + "/cmdline")
		out = append(out, fmt.Sprintf("%d %s", p.PID, strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))))
	}
	return out
}

// Main is the TestMain of packages whose tests start real processes (code-server,
// codehub-init, gateways): it runs the tests and fails the binary when one was left running.
func Main(m interface{ Run() int }) {
	code := m.Run()
	if left := KillLeftoverProcesses(5 * time.Second); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: the tests left these processes running (now killed):\n  %s\n", strings.Join(left, "\n  "))
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}
