package testnode

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// known is the baseline of the node this process brought up (kept after teardown removes the
// file, so Leftovers can still compare the sysctls and paths with it).
var (
	knownMu sync.Mutex
	known   *baseline
)

func currentBaseline() *baseline {
	knownMu.Lock()
	defer knownMu.Unlock()
	if b, err := readBaseline(); err == nil {
		known = b
	}
	return known
}

// teardown removes everything a node (this one, or one an earlier test process left) made:
// pods, then kube-proxy's rules (kube-proxy --cleanup), the processes by PID (TERM, then
// KILL), containerd's leftover tasks and containers and their shims, mounts under the node's
// directories (lazily), the kubepods cgroups in every hierarchy, the node's iptables rules and
// chains (v4 and v6: guards, KUBE-*), conntrack entries, the bridge and its route, the
// sysctls as they were, the files the kubelet and CNI hard-code outside its directories, and
// the directories. It goes on after an error and returns them all.
func teardown(n *Node) error {
	var errs []error
	note := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	base := currentBaseline()
	ctx := context.Background()
	procs := func(names ...string) []*proc {
		n.mu.Lock()
		defer n.mu.Unlock()
		var ps []*proc
		for _, name := range names {
			if p := n.procs[name]; p != nil {
				ps = append(ps, p)
			}
		}
		return ps
	}
	stop := func(grace time.Duration, names ...string) {
		for _, p := range procs(names...) {
			p.stop(grace)
		}
	}

	// Pods first, while the kubelet runs: it stops their containers and releases their network.
	// The controllers go before, so nothing recreates them.
	stop(5*time.Second, "kube-controller-manager", "kube-scheduler")
	if n.Client != nil && len(procs("kubelet")) > 0 && procs("kubelet")[0].exited() == nil {
		note(n.deleteAllPods(ctx))
	}
	if n.dns != nil {
		n.dns.stop()
	}
	stop(5*time.Second, "kube-proxy")
	if n.opts.Binaries != "" {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		out, err := exec.CommandContext(cctx, filepath.Join(n.opts.Binaries, "kube-proxy"), "--cleanup").CombinedOutput()
		cancel()
		if err != nil {
			// --cleanup also tries the ipvs and nftables modes; what counts is what is left below.
			n.opts.Logf("testnode: kube-proxy --cleanup: %v: %s", err, lastLine(string(out)))
		}
	}
	stop(10*time.Second, "kubelet")

	if _, err := os.Stat(containerdSock); err == nil {
		removeContainers(ctx)
	}
	stop(10*time.Second, "containerd")
	stop(10*time.Second, "kube-apiserver")
	stop(10*time.Second, "etcd")
	// Processes of an earlier test process's node (by their PID files), then anything else of
	// the node still running (shims, pods' processes): SIGKILL, and wait until they are gone.
	for _, pid := range readPIDs() {
		if cl, ok := ourProcesses()[pid]; ok && cl != "" {
			_ = syscall.Kill(pid, syscall.SIGTERM)
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for left := ourProcesses(); len(left) > 0; left = ourProcesses() {
		if time.Now().After(deadline) {
			for pid, cl := range left {
				note(fmt.Errorf("process %d still running: %s", pid, cl))
			}
			break
		}
		if time.Until(deadline) < 12*time.Second {
			for pid := range left {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}

	note(unmountOurs())
	note(removeCgroups())
	note(cleanIptables())
	for _, cidr := range []string{PodCIDR, ServiceCIDR} {
		for _, dir := range []string{"-s", "-d"} {
			_ = exec.Command("conntrack", "-D", dir, cidr).Run() // exits 1 when none match
		}
	}
	// Ports of the bridge (veths of pods the kubelet could not tear down), then the bridge,
	// which takes its address and the service route with it.
	if out, _ := run("ip", "-o", "link", "show", "master", Bridge); out != "" {
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if f := strings.Fields(line); len(f) > 1 {
				_, _ = run("ip", "link", "del", strings.SplitN(strings.TrimSuffix(f[1], ":"), "@", 2)[0])
			}
		}
	}
	if _, err := os.Stat("/sys/class/net/" + Bridge); err == nil {
		_, err := run("ip", "link", "del", Bridge)
		note(err)
	}
	if base != nil {
		for name, v := range base.Sysctls {
			if readSysctl(name) != v {
				note(writeSysctl(name, v))
			}
		}
	}
	note(removeHardcodedFiles(base))
	for _, d := range []string{StateDir, RunDir} {
		if err := os.RemoveAll(d); err != nil {
			note(fmt.Errorf("remove %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// deleteAllPods deletes every pod (grace 2 s) and waits for the kubelet to finish them; what
// is left after 40 s is force-deleted (its containers are removed through containerd below).
func (n *Node) deleteAllPods(ctx context.Context) error {
	grace := int64(2)
	pods := n.Client.CoreV1().Pods(metav1.NamespaceAll)
	list, err := pods.List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing pods: %w", err)
	}
	for _, p := range list.Items {
		_ = ignoreNotFound(n.Client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &grace}))
	}
	deadline := time.Now().Add(40 * time.Second)
	for {
		list, err := pods.List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		if len(list.Items) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			zero := int64(0)
			for _, p := range list.Items {
				_ = n.Client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
			}
			n.opts.Logf("testnode: %d pods did not terminate in 40 s: force-deleted", len(list.Items))
			return nil
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// removeContainers kills and deletes every task and container left in the node's containerd.
func removeContainers(ctx context.Context) {
	out, err := ctr(ctx, "tasks", "ls", "-q")
	if err == nil {
		for _, id := range strings.Fields(out) {
			_, _ = ctr(ctx, "tasks", "kill", "-s", "SIGKILL", id)
		}
		deadline := time.Now().Add(10 * time.Second)
		for _, id := range strings.Fields(out) {
			for {
				if _, err := ctr(ctx, "tasks", "delete", id); err == nil || time.Now().After(deadline) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
	}
	if out, err := ctr(ctx, "containers", "ls", "-q"); err == nil {
		for _, id := range strings.Fields(out) {
			_, _ = ctr(ctx, "containers", "rm", id)
		}
	}
}

// ourMounts lists mount points of the node: under its directories or /var/lib/kubelet, and
// network namespaces or overlays naming its directories.
func ourMounts() []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var mounts []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if strings.HasPrefix(mp, StateDir) || strings.HasPrefix(mp, RunDir) || strings.HasPrefix(mp, "/var/lib/kubelet") ||
			strings.Contains(sc.Text(), Marker) {
			mounts = append(mounts, mp)
		}
	}
	return mounts
}

func unescapeMount(s string) string {
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(s)
}

// unmountOurs lazily unmounts the node's mounts, deepest first, until none is left.
func unmountOurs() error {
	for attempt := 0; attempt < 5; attempt++ {
		mounts := ourMounts()
		if len(mounts) == 0 {
			return nil
		}
		sort.Slice(mounts, func(i, j int) bool { return len(mounts[i]) > len(mounts[j]) })
		for _, m := range mounts {
			_ = syscall.Unmount(m, syscall.MNT_DETACH)
		}
	}
	if left := ourMounts(); len(left) > 0 {
		return fmt.Errorf("still mounted: %s", strings.Join(left, ", "))
	}
	return nil
}

// cgroupRoots are the hierarchies the kubelet (cgroupfs driver) makes kubepods in.
func cgroupRoots() []string {
	entries, _ := os.ReadDir("/sys/fs/cgroup")
	var roots []string
	for _, e := range entries {
		if e.IsDir() {
			roots = append(roots, filepath.Join("/sys/fs/cgroup", e.Name()))
		}
	}
	return roots
}

func ourCgroups() []string {
	var found []string
	for _, r := range cgroupRoots() {
		if _, err := os.Stat(filepath.Join(r, "kubepods")); err == nil {
			found = append(found, filepath.Join(r, "kubepods"))
		}
	}
	return found
}

// removeCgroups removes the kubepods trees, deepest first (a cgroup is removed by rmdir once
// it has no processes and no children); retried while the last processes exit.
func removeCgroups() error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, top := range ourCgroups() {
			var dirs []string
			_ = filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					dirs = append(dirs, p)
				}
				return nil
			})
			sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
			for _, d := range dirs {
				_ = syscall.Rmdir(d)
			}
		}
		left := ourCgroups()
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroups not removable: %s", strings.Join(left, ", "))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ourHardcodedFiles lists what the node put into the paths the kubelet and CNI hard-code.
func ourHardcodedFiles() []string {
	var found []string
	for _, f := range []string{"/var/lib/kubelet/device-plugins/kubelet.sock", "/var/lib/kubelet/device-plugins/kubelet_internal_checkpoint"} {
		if _, err := os.Lstat(f); err == nil {
			found = append(found, f)
		}
	}
	if entries, err := os.ReadDir("/var/log/containers"); err == nil {
		for _, e := range entries {
			p := filepath.Join("/var/log/containers", e.Name())
			if target, err := os.Readlink(p); err == nil && strings.HasPrefix(target, podLogsDir) {
				found = append(found, p)
			}
		}
	}
	// CNI results of the node's network, and of the loopback network containerd's CRI sets up
	// in each sandbox ("cni-loopback": only the node runs containerd's CRI on this machine).
	for _, dir := range []string{"/var/lib/cni/results", "/var/lib/cni/networks", "/var/lib/cni/cache/results"} {
		if entries, err := os.ReadDir(dir); err == nil {
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), Marker) || strings.HasPrefix(e.Name(), "cni-loopback-") {
					found = append(found, filepath.Join(dir, e.Name()))
				}
			}
		}
	}
	return found
}

// removeHardcodedFiles removes the node's files there, then each hard-coded directory that
// did not exist before the node and is now empty (a directory another program uses stays).
func removeHardcodedFiles(base *baseline) error {
	var errs []error
	for _, f := range ourHardcodedFiles() {
		if err := os.RemoveAll(f); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range hardcodedPaths {
		existed := base != nil && base.Existed[p]
		if !existed {
			_ = syscall.Rmdir(p) // only when empty
		}
	}
	return errors.Join(errs...)
}
