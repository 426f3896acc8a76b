package testnode

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

// What a node test can leave behind on the host, for the check after teardown.

// Leftovers lists everything of a node that is on this machine now, one line per item, each
// starting with its kind: process, mount, iptables (v4/v6 and table), route, link, address,
// cgroup, file, sysctl. Empty when no node runs and none left anything behind.
func Leftovers() []string {
	var left []string
	add := func(kind, item string) { left = append(left, kind+": "+item) }
	pids := ourProcesses()
	keys := make([]int, 0, len(pids))
	for pid := range pids {
		keys = append(keys, pid)
	}
	sort.Ints(keys)
	for _, pid := range keys {
		add("process", fmt.Sprintf("%d %s", pid, pids[pid]))
	}
	for _, m := range ourMounts() {
		add("mount", m)
	}
	left = append(left, IptablesLeftovers()...)
	for _, fam := range []string{"-4", "-6"} {
		out, _ := run("ip", fam, "route", "show", "table", "all")
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, Bridge) || strings.Contains(line, "10.213.0.") || strings.Contains(line, "10.214.0.") {
				add("route "+fam, strings.TrimSpace(line))
			}
		}
	}
	if out, _ := run("ip", "-o", "link"); out != "" {
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, Bridge) {
				add("link", strings.TrimSpace(line))
			}
		}
	}
	if out, _ := run("ip", "-o", "addr"); out != "" {
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, " 10.213.0.") || strings.Contains(line, " 10.214.0.") {
				add("address", strings.TrimSpace(line))
			}
		}
	}
	for _, c := range ourCgroups() {
		add("cgroup", c)
	}
	for _, d := range []string{StateDir, RunDir} {
		if _, err := os.Lstat(d); err == nil {
			add("file", d)
		}
	}
	for _, f := range ourHardcodedFiles() {
		add("file", f)
	}
	base := currentBaseline()
	for _, p := range append(append([]string{}, hardcodedPaths...), watchedPaths...) {
		if base != nil && !base.Existed[p] {
			if _, err := os.Lstat(p); err == nil {
				add("file", p+" (did not exist before the node)")
			}
		}
	}
	if base != nil {
		names := make([]string, 0, len(base.Sysctls))
		for name := range base.Sysctls {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if got := readSysctl(name); got != base.Sysctls[name] {
				add("sysctl", fmt.Sprintf("%s = %s, was %s before the node", name, got, base.Sysctls[name]))
			}
		}
	}
	return left
}

// IptablesLeftovers lists the node's rules and chains in the filter, nat, mangle and raw
// tables of iptables and ip6tables ("iptables v4 nat: -A ...").
func IptablesLeftovers() []string {
	var left []string
	for _, bin := range []string{"iptables", "ip6tables"} {
		fam := "v4"
		if bin == "ip6tables" {
			fam = "v6"
		}
		for _, table := range []string{"filter", "nat", "mangle", "raw"} {
			for _, line := range strings.Split(iptablesSave(bin, table), "\n") {
				if (strings.HasPrefix(line, "-A ") || strings.HasPrefix(line, ":")) && isOurs(line) {
					left = append(left, fmt.Sprintf("iptables %s %s: %s", fam, table, line))
				}
			}
		}
	}
	return left
}
