package onnode

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/identity"
)

// BenchmarkOnNode measures the figures of docs/real-node.md on the node, with the chart
// installed as TestSeedInstall installs it (run once, whatever b.N):
//
//	go test ./test/onnode -run '^$' -bench OnNode -benchtime 1x -timeout 30m -v
//
// (with the variables make test exports). It prints a Markdown table and writes it to
// out/onnode/figures.md.
func BenchmarkOnNode(b *testing.B) {
	c := nodeFor(b)
	c.install(b)
	var report strings.Builder
	row := func(format string, args ...any) {
		fmt.Fprintf(&report, format+"\n", args...)
		b.Logf(format, args...)
	}
	load := func() string {
		l, _ := os.ReadFile("/proc/loadavg")
		return strings.Join(strings.Fields(string(l))[:3], " ")
	}
	row("Measured %s on this machine (load average before: %s).", time.Now().UTC().Format("2006-01-02 15:04 UTC"), load())
	row("")

	// 1. Sign-in → workbench visible in Chromium: pod cold (a new user: Workspace created,
	// pod started), pod warm (a second browser while it runs), pod cold again (after a stop).
	var cold, warm, stopped []float64
	for i := range 3 {
		u := c.user(b, fmt.Sprintf("bench-browser-%d", i), 4001+i)
		br := c.browser(b, u.Name+"-cold", 5*time.Minute)
		cold = append(cold, br.signIn(b, "http://"+mainHost+"/", u).Seconds())
		br.close()
		br = c.browser(b, u.Name+"-warm", 5*time.Minute)
		warm = append(warm, br.signIn(b, "http://"+mainHost+"/", u).Seconds())
		br.close()
		ws := identity.WorkspaceName(u.Name)
		c.setRunning(b, ws, false)
		poll(b, 2*time.Minute, 250*time.Millisecond, "stopped", func() (bool, string) {
			return len(c.workspacePods(b, ws)) == 0 && c.workspace(b, ws).Status.Phase == codehubv1.PhaseStopped, ""
		})
		br = c.browser(b, u.Name+"-stopped", 5*time.Minute)
		stopped = append(stopped, br.signIn(b, "http://"+mainHost+"/", u).Seconds())
		br.close()
		c.setRunning(b, ws, false)
	}
	row("| sign-in click → `.monaco-workbench` visible (Chromium, through the Service) | median | trials |")
	row("|---|---|---|")
	row("| pod cold: first sign-in (Workspace created, pod started) | %.1f s | %s |", median(cold), secs(cold))
	row("| pod warm: a new browser while the pod runs | %.1f s | %s |", median(warm), secs(warm))
	row("| pod cold: after a stop (pod started again) | %.1f s | %s |", median(stopped), secs(stopped))
	row("")

	// 2. Workspace create → pod Ready, by phase (the pod watched from the test: sub-second).
	var phases [5][]float64
	for i := range 5 {
		u := c.user(b, fmt.Sprintf("bench-start-%d", i), 4101+i)
		p := c.timedStart(b, u)
		for j := range phases {
			phases[j] = append(phases[j], p[j])
		}
		c.setRunning(b, identity.WorkspaceName(u.Name), false)
	}
	row("| Workspace created → (5 starts, median; each step from the previous) | median | trials |")
	row("|---|---|---|")
	for j, name := range []string{"pod created (operator → Deployment → ReplicaSet → pod)", "scheduled", "container running (volumes mounted incl. v3io FUSE, container created)",
		"pod Ready (codehub-init, code-server up, startup probe)", "Workspace Running (operator's status; what the gateway waits for)"} {
		row("| %s | %.2f s | %s |", name, median(phases[j]), secs(phases[j]))
	}
	var total []float64
	for i := range phases[0] {
		var s float64
		for j := range phases {
			s += phases[j][i]
		}
		total = append(total, s)
	}
	row("| **total** | **%.2f s** | %s |", median(total), secs(total))
	row("")

	// 3. Mass start: 10 users sign in at once (page visits with their platform sessions) →
	// each one's workbench HTML served; then the node's memory per running workspace.
	const users = 10
	var wg sync.WaitGroup
	took := make([]float64, users)
	errs := make([]error, users)
	cookies := make([]string, users)
	names := make([]string, users)
	for i := range users {
		u := c.user(b, fmt.Sprintf("bench-mass-%d", i), 4201+i)
		names[i], cookies[i] = identity.WorkspaceName(u.Name), "session="+c.platform.session(b, u.Name)
	}
	// Memory before: no workspace pod left from the steps above.
	poll(b, 2*time.Minute, 500*time.Millisecond, "no workspace pods before the mass start", func() (bool, string) {
		pods, err := c.node.Client.CoreV1().Pods(namespace).List(context.Background(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=workspace"})
		return err == nil && len(pods.Items) == 0, fmt.Sprint(len(pods.Items), err)
	})
	before := nodeRSS()
	start := time.Now()
	for i := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			errs[i] = c.untilWorkbench(cookies[i], 5*time.Minute)
			took[i] = time.Since(t0).Seconds()
		}()
	}
	wg.Wait()
	all := time.Since(start).Seconds()
	for i, err := range errs {
		if err != nil {
			b.Errorf("mass start, user %d: %v", i, err)
		}
	}
	sorted := append([]float64(nil), took...)
	sort.Float64s(sorted)
	row("| %d users sign in at once → workbench HTML served (each) | p50 | p99 (= max of %d) | all served |", users, users)
	row("|---|---|---|---|")
	row("| from the first page visit, per user | %.1f s | %.1f s | %.1f s |", percentile(sorted, 50), percentile(sorted, 99), all)
	row("")
	var perPod []float64
	for _, ws := range names {
		for _, p := range c.workspacePods(b, ws) {
			if kb := podRSS(string(p.UID)); kb > 0 {
				perPod = append(perPod, float64(kb)/1024)
			}
		}
	}
	after := nodeRSS()
	row("| memory (sum of VmRSS) | value |")
	row("|---|---|")
	row("| per running workspace pod, no browser attached (median of %d) | %.0f MiB (min %.0f, max %.0f) |", len(perPod), median(perPod), minF(perPod), maxF(perPod))
	row("| the node's processes and all pods: before → with the %d workspaces | %.0f MiB → %.0f MiB (%.0f MiB per workspace) |", users, before, after, (after-before)/users)
	row("")
	row("Load average after: %s.", load())
	for _, ws := range names {
		c.setRunning(b, ws, false)
	}
	out := filepath.Join(c.repo, "out", "onnode")
	_ = os.MkdirAll(out, 0o755)
	_ = os.WriteFile(filepath.Join(out, "figures.md"), []byte(report.String()), 0o644)
}

// timedStart has the gateway's backend path done by hand (a Workspace from the chart's
// defaults, running) and times the steps of its pod as a watch from the test sees them.
func (c *cluster) timedStart(b testing.TB, u platformUser) [5]float64 {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	name := identity.WorkspaceName(u.Name)
	w, err := c.node.Client.CoreV1().Pods(namespace).Watch(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=codehub-" + name})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	spec := c.workspaceDefaults(b).DeepCopy()
	spec.User, spec.UID, spec.GID, spec.Running = u.Name, ptrTo(int64(u.UID)), ptrTo(int64(u.GID)), true
	t0 := time.Now()
	if err := c.client.Create(ctx, &codehubv1.Workspace{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}, Spec: *spec}); err != nil {
		b.Fatal(err)
	}
	var at [4]time.Time
	for ev := range w.ResultChan() {
		if ev.Type == watch.Error {
			b.Fatalf("watch: %v", ev.Object)
		}
		p, ok := ev.Object.(*corev1.Pod)
		if !ok {
			continue
		}
		now := time.Now()
		mark := func(i int, cond bool) {
			if cond && at[i].IsZero() {
				at[i] = now
			}
		}
		mark(0, true)
		mark(1, p.Spec.NodeName != "")
		for _, cs := range p.Status.ContainerStatuses {
			mark(2, cs.State.Running != nil)
		}
		for _, cd := range p.Status.Conditions {
			mark(3, cd.Type == corev1.PodReady && cd.Status == corev1.ConditionTrue)
		}
		if !at[3].IsZero() {
			break
		}
	}
	if at[3].IsZero() {
		b.Fatalf("%s: pod not Ready within 3 min", name)
	}
	poll(b, time.Minute, 50*time.Millisecond, "Workspace Running", func() (bool, string) {
		return c.workspace(b, name).Status.Phase == codehubv1.PhaseRunning, ""
	})
	running := time.Now()
	prev := t0
	var out [5]float64
	for i, t := range append(at[:], running) {
		if t.Before(prev) { // two steps seen in one watch event
			t = prev
		}
		out[i] = t.Sub(prev).Seconds()
		prev = t
	}
	return out
}

// untilWorkbench visits the main host as a signed-in user, as a browser would reload the
// progress page, until the workbench HTML is served.
func (c *cluster) untilWorkbench(cookie string, within time.Duration) error {
	hc := c.httpClient()
	deadline := time.Now().Add(within)
	path := "/"
	var last string
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest("GET", "http://"+mainHost+path, nil)
		req.Header.Set("Cookie", cookie)
		req.Header.Set("Accept", "text/html")
		req.Header.Set("Sec-Fetch-Mode", "navigate")
		req.Header.Set("Sec-Fetch-Dest", "document")
		resp, err := hc.Do(req)
		if err != nil {
			last = err.Error()
			time.Sleep(250 * time.Millisecond)
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusOK && strings.Contains(string(body), "workbench"):
			return nil
		case resp.StatusCode == http.StatusFound || resp.StatusCode == http.StatusSeeOther:
			// code-server's redirect to its folder (relative to the path)
			if loc := resp.Header.Get("Location"); strings.HasPrefix(loc, "./") {
				path = "/" + strings.TrimPrefix(loc, "./")
			} else if strings.HasPrefix(loc, "/") {
				path = loc
			}
			continue
		}
		last = resp.Status
		time.Sleep(250 * time.Millisecond) // the progress page's own refresh is 1 s; a user could not be faster
	}
	return fmt.Errorf("no workbench within %s (last: %s)", within, last)
}

// podRSS sums VmRSS (KiB) of the processes in the pod's cgroups (the kubelet's cgroupfs
// layout: .../kubepods/<qos>/pod<uid>/...).
func podRSS(uid string) int {
	total := 0
	for _, pid := range procs() {
		cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		if strings.Contains(string(cg), "pod"+uid) {
			total += vmRSS(pid)
		}
	}
	return total
}

// nodeRSS is the VmRSS (MiB) of the node's own processes (command line naming its
// directories) and of every pod's.
func nodeRSS() float64 {
	total := 0
	for _, pid := range procs() {
		cl, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		if strings.Contains(string(cl), "codehub-testnode") || strings.Contains(string(cg), ":/kubepods") {
			total += vmRSS(pid)
		}
	}
	return float64(total) / 1024
}

func procs() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

func vmRSS(pid int) int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// percentile of sorted values, nearest rank.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func secs(v []float64) string {
	var s []string
	for _, x := range v {
		s = append(s, fmt.Sprintf("%.2f", x))
	}
	return strings.Join(s, ", ")
}

func minF(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	m := v[0]
	for _, x := range v {
		m = min(m, x)
	}
	return m
}

func maxF(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}
