package local

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// stopOrphans finds code-server process groups that a previous gateway started and did
// not stop (it crashed or was SIGKILLed) and stops them. A pid is only signalled when
// the process still names this workspace's directory on its command line, so a reused
// pid of an unrelated process is left alone.
func (b *Backend) stopOrphans() {
	pidFiles, _ := filepath.Glob(filepath.Join(b.cfg.Dir, "*", pidFile))
	for _, pf := range pidFiles {
		dir := filepath.Dir(pf)
		data, err := os.ReadFile(pf)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || pid <= 1 {
			os.Remove(pf)
			continue
		}
		if ownsProcess(pid, dir) {
			b.cfg.Logger.Warn("stopping orphaned workspace process", "workspace", filepath.Base(dir), "pid", pid)
			_ = syscall.Kill(-pid, syscall.SIGTERM)
			deadline := time.Now().Add(b.cfg.StopGrace)
			for time.Now().Before(deadline) && processAlive(pid) {
				time.Sleep(50 * time.Millisecond) // polling a foreign process: nothing to wait on
			}
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
		os.Remove(pf)
	}
}

func ownsProcess(pid int, dir string) bool {
	cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return false
	}
	return bytes.Contains(cmdline, []byte(dir))
}

func processAlive(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	// A zombie has exited already; field 3 is the state.
	if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

// lastLine returns the last non-empty line of a (small) log file, trimmed.
func lastLine(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	l := strings.TrimSpace(lines[len(lines)-1])
	if len(l) > 300 {
		l = l[:300]
	}
	return l
}
