// Package proc reads a process's own CPU time and memory from /proc, and finds its children.
package proc

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ClockTick is the unit of utime/stime in /proc/<pid>/stat (USER_HZ; 100 on Linux).
const ClockTick = 100

// CPUTicks returns utime+stime of pid (its own threads, not its waited-for children).
func CPUTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name is in parentheses and may contain spaces: split after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("proc: bad stat for %d", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// Fields after ')' start at field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("proc: short stat for %d", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("proc: bad times for %d", pid)
	}
	return u + s, nil
}

// SumCPUTicks sums CPUTicks over pids, ignoring processes that are gone.
func SumCPUTicks(pids []int) int64 { return sum(pids, CPUTicks) }

// RSSKiB returns VmRSS of pid in KiB.
func RSSKiB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("proc: no VmRSS for %d", pid)
}

// SumRSSKiB sums RSSKiB over pids.
func SumRSSKiB(pids []int) int64 { return sum(pids, RSSKiB) }

// sum adds read(pid) over pids, skipping the processes read fails for (they are gone).
func sum(pids []int, read func(int) (int64, error)) int64 {
	var t int64
	for _, p := range pids {
		if v, err := read(p); err == nil {
			t += v
		}
	}
	return t
}

// Children returns the direct children of pid.
func Children(pid int) []int {
	var out []int
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		if pp, _ := strconv.Atoi(f[1]); pp == pid {
			if c, err := strconv.Atoi(filepath.Base(filepath.Dir(d))); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}
