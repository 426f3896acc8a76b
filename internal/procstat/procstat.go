// Package procstat measures the CPU a set of processes uses, from /proc: the local
// backend's "busy work" signal (a training job in a terminal, a notebook kernel executing)
// and the activity measurement's idle-CPU figures.
package procstat

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is the unit of utime/stime in /proc/<pid>/stat (USER_HZ, 100 on Linux).
const clockTick = 100

// Proc is one process as /proc shows it.
type Proc struct {
	PID, PPID, PGID int
	UID             int
	State           byte   // R, S, D, Z (zombie: ended, not yet reaped), …
	Start           uint64 // start time in ticks since boot: tells a reused pid apart
	Ticks           int64  // utime + stime of the process itself (not waited-for children)
}

type key struct {
	pid   int
	start uint64
}

// Scan reads every process (processes that vanish while reading are skipped).
func Scan() []Proc {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	out := make([]Proc, 0, len(entries))
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := read(pid); ok {
			out = append(out, p)
		}
	}
	return out
}

func read(pid int) (Proc, bool) {
	path := "/proc/" + strconv.Itoa(pid)
	b, err := os.ReadFile(path + "/stat")
	if err != nil {
		return Proc{}, false
	}
	// The command is in parentheses and may contain anything: split after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return Proc{}, false
	}
	f := strings.Fields(string(b[i+2:]))
	// f[0] is field 3 (state); ppid 4, pgrp 5, utime 14, stime 15, starttime 22.
	if len(f) < 20 {
		return Proc{}, false
	}
	p := Proc{PID: pid, State: f[0][0]}
	p.PPID, _ = strconv.Atoi(f[1])
	p.PGID, _ = strconv.Atoi(f[2])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	p.Ticks = u + s
	p.Start, _ = strconv.ParseUint(f[19], 10, 64)
	var st syscall.Stat_t
	if syscall.Stat(path, &st) != nil {
		return Proc{}, false
	}
	p.UID = int(st.Uid)
	return p, true
}

// Tree returns root and every process below it (by parent links).
func Tree(all []Proc, root int) []Proc {
	children := map[int][]Proc{}
	var top *Proc
	for i := range all {
		children[all[i].PPID] = append(children[all[i].PPID], all[i])
		if all[i].PID == root {
			top = &all[i]
		}
	}
	if top == nil {
		return nil
	}
	out := []Proc{*top}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i].PID]...)
	}
	return out
}

// OfUID returns the processes owned by uid.
func OfUID(all []Proc, uid int) []Proc {
	var out []Proc
	for _, p := range all {
		if p.UID == uid {
			out = append(out, p)
		}
	}
	return out
}

// Meter turns successive samples of one set of processes into CPU use. A process seen in
// both samples counts its tick difference; a new one all of its ticks (it started within
// the interval or ran unseen); one that exited is lost for that interval, so a job of
// short-lived processes reads low rather than high.
type Meter struct {
	prev   map[key]int64
	prevAt time.Time
}

// Sample records procs at now and returns the CPU used since the previous sample, in
// cores (1.0 = one CPU busy all the time); ok is false for the first sample.
func (m *Meter) Sample(procs []Proc, now time.Time) (cores float64, ok bool) {
	cur := make(map[key]int64, len(procs))
	var ticks int64
	for _, p := range procs {
		k := key{p.PID, p.Start}
		cur[k] = p.Ticks
		if m.prev != nil {
			if before, seen := m.prev[k]; seen {
				if d := p.Ticks - before; d > 0 {
					ticks += d
				}
			} else {
				ticks += p.Ticks
			}
		}
	}
	first := m.prev == nil
	elapsed := now.Sub(m.prevAt)
	m.prev, m.prevAt = cur, now
	if first || elapsed <= 0 {
		return 0, false
	}
	return float64(ticks) / clockTick / elapsed.Seconds(), true
}
