package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/codehub-dev/codehub/internal/workbench"

	"github.com/chromedp/chromedp"

	"github.com/codehub-dev/codehub/bench/internal/freeport"
	"github.com/codehub-dev/codehub/bench/internal/proc"
)

// Browser is what a user waits for, in a real headless Chromium: sign-in click (codehub) or
// navigation (straight to code-server) → .monaco-workbench visible → explorer rows shown,
// with a cold browser (new profile) and warm (the same profile again), and the workspace's
// CPU seconds per cold load. The same code-server release serves both; "direct" is a
// code-server process reached without any gateway.
type Browser struct {
	Chromium string         `json:"chromium,omitempty"`
	Trials   []BrowserTrial `json:"trials,omitempty"`
	Errors   []string       `json:"errors,omitempty"`
	Skipped  string         `json:"skipped,omitempty"`
}

// BrowserTrial is one load of one target.
type BrowserTrial struct {
	Target     string  `json:"target"` // codehub or direct
	Cache      string  `json:"cache"`  // cold or warm
	Trial      int     `json:"trial"`
	WorkbenchS float64 `json:"workbench_s"`
	ExplorerS  float64 `json:"explorer_s"`
	CPUS       float64 `json:"workspace_cpu_s"` // code-server's process group, during the load
	Err        string  `json:"error,omitempty"`
}

const browserTrials = 3

func measureBrowser(ctx context.Context, e env) Browser {
	b := Browser{Chromium: e.chromium}
	if e.chromium == "" || e.codeServer == "" {
		b.Skipped = "no Chromium or code-server given (--chromium, --code-server)"
		return b
	}
	work := filepath.Join(e.work, "browser")
	if err := os.MkdirAll(work, 0o755); err != nil { // as root, workspaces run as their own uid
		b.Errors = append(b.Errors, err.Error())
		return b
	}
	p := &procs{dir: work}
	defer p.stopAll()
	gw, gwGroup, err := startBrowserGateway(e, p, work)
	if err != nil {
		b.Errors = append(b.Errors, "codehub: "+err.Error())
		return b
	}
	direct, directGroup, err := startDirectCodeServer(e, p, work)
	if err != nil {
		b.Errors = append(b.Errors, "direct code-server: "+err.Error())
		return b
	}
	for trial := 1; trial <= browserTrials && ctx.Err() == nil; trial++ {
		for _, t := range []struct {
			name  string
			base  string
			group func() int
		}{{"codehub", gw, gwGroup}, {"direct", direct, directGroup}} {
			profile, _ := os.MkdirTemp(work, "chromium-")
			for _, r := range coldThenWarm(ctx, e.chromium, profile, t.base, t.name == "codehub", t.group) {
				r.Target, r.Trial = t.name, trial
				b.Trials = append(b.Trials, r)
				progress("browser %-8s %s trial %d: workbench %.2fs explorer %.2fs workspace CPU %.2fs %s", t.name, r.Cache, trial, r.WorkbenchS, r.ExplorerS, r.CPUS, r.Err)
			}
			os.RemoveAll(profile)
		}
	}
	return b
}

// coldThenWarm starts a Chromium with a new profile, loads base in a tab (signing in first
// when signIn) — the cold load — then closes that tab and loads base again in a new tab of
// the same browser — the warm load: HTTP cache and cookies as a person's browser has them.
func coldThenWarm(ctx context.Context, chromium, profile, base string, signIn bool, group func() int) []BrowserTrial {
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, workbench.ChromiumOptions(chromium, profile)...)
	defer cancelAlloc()
	browserCtx, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	// Start the browser first: the workspace's CPU is read around the loads only.
	if err := chromedp.Do(browserCtx, chromedp.Navigate("about:blank")); err != nil {
		return []BrowserTrial{{Cache: "cold", Err: err.Error()}, {Cache: "warm", Err: err.Error()}}
	}
	cold := loadInTab(browserCtx, profile, base, signIn, group)
	cold.Cache = "cold"
	warm := loadInTab(browserCtx, profile, base, false, group)
	warm.Cache = "warm"
	return []BrowserTrial{cold, warm}
}

// loadInTab opens a new tab of the browser in browserCtx and times one load of base.
func loadInTab(browserCtx context.Context, profile, base string, signIn bool, group func() int) BrowserTrial {
	var r BrowserTrial
	tab, cancelTab := chromedp.NewContext(browserCtx)
	defer cancelTab()
	bctx, cancelT := context.WithTimeout(tab, 3*time.Minute)
	defer cancelT()
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		r.Err = err.Error()
		return r
	}
	cpu := sampleGroup(group)
	var start time.Time
	var err error
	if signIn {
		err = chromedp.Do(bctx, chromedp.Navigate(base+"/_codehub/login?next=/"), chromedp.WaitVisible(chromedp.CSS("#username")),
			chromedp.SendKeys(chromedp.CSS("#username"), "bench"), chromedp.SendKeys(chromedp.CSS("#password"), "bench-password"))
		start = time.Now()
		if err == nil {
			err = chromedp.Do(bctx, chromedp.Click(chromedp.CSS("button[type=submit]")))
		}
	} else {
		start = time.Now()
		err = chromedp.Do(bctx, chromedp.Navigate(base+"/"))
	}
	if err == nil {
		wctx, cancelW := context.WithTimeout(bctx, 90*time.Second)
		err = chromedp.Do(wctx, chromedp.WaitVisible(chromedp.CSS(".monaco-workbench")))
		cancelW()
		r.WorkbenchS = time.Since(start).Seconds()
	}
	if err == nil {
		rows := chromedp.CSS(".explorer-folders-view .monaco-list-row")
		wctx, cancelW := context.WithTimeout(bctx, 60*time.Second)
		err = chromedp.Do(wctx, chromedp.WaitVisible(rows))
		cancelW()
		if err != nil && bctx.Err() == nil {
			// The side bar may start closed: the Explorer icon opens it (counted in the time).
			err = chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`.activitybar [aria-label^="Explorer"]`)), chromedp.WaitVisible(rows))
		}
		r.ExplorerS = time.Since(start).Seconds()
	}
	if err != nil {
		where, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`location.href + " | " + document.title + " | " + document.body.innerText.slice(0, 200)`))
		r.Err = err.Error() + " at " + where
		if buf, serr := chromedp.Run(bctx, chromedp.CaptureScreenshot()); serr == nil {
			os.WriteFile(filepath.Join(filepath.Dir(profile), "failure-"+filepath.Base(profile)+".png"), buf, 0o644)
		}
	}
	// What the load still costs after the explorer shows (extension host start, indexing):
	// give it a bounded moment, then read.
	time.Sleep(3 * time.Second)
	r.CPUS = float64(cpu()) / proc.ClockTick
	return r
}

// sampleGroup follows a process group's CPU ticks every 100 ms until the returned function
// is called, which gives the ticks used since the start: per process, its last sample
// minus its first (a process that exits keeps what was last seen of it, so children that
// end during the load are not lost).
func sampleGroup(group func() int) func() int64 {
	baseline := groupMembers(group())
	last := map[int]int64{}
	sample := func() {
		for pid, t := range groupMembers(group()) {
			last[pid] = t
		}
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				sample()
				return
			case <-tick.C:
				sample()
			}
		}
	}()
	return func() int64 {
		close(stop)
		<-done
		var total int64
		for pid, t := range last {
			total += t - baseline[pid] // a process started during the load counts in full
		}
		return total
	}
}

// groupMembers maps each live process of process group pgid to its utime+stime.
func groupMembers(pgid int) map[int]int64 {
	out := map[int]int64{}
	if pgid <= 0 {
		return out
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(b), ')')
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 || f[2] != strconv.Itoa(pgid) {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		out[pid] = u + st
	}
	return out
}

// startBrowserGateway runs codehub (local backend, real code-server) with user bench and a
// file in the workspace, wakes the workspace and returns its URL and the workspace's pgid.
func startBrowserGateway(e env, p *procs, work string) (string, func() int, error) {
	state := filepath.Join(work, "state")
	if err := addUser(e.codehub, state); err != nil {
		return "", nil, err
	}
	port := freeport.Get()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	cmd := exec.Command(e.codehub, "serve", "--state-dir", state, "--code-server", e.codeServer,
		"--listen", fmt.Sprintf("127.0.0.1:%d", port), "--idle-timeout", "0", "--metrics-listen", "", "--reconnection-grace-time", "30s")
	if err := p.start("browser-codehub", cmd); err != nil {
		return "", nil, err
	}
	if err := waitHTTP(base+"/_codehub/healthz", 30*time.Second); err != nil {
		log, _ := os.ReadFile(filepath.Join(work, "browser-codehub.log"))
		return "", nil, fmt.Errorf("%w: %s", err, lastLines(string(log), 3))
	}
	cookie, err := codehubLogin(base)
	if err != nil {
		return "", nil, err
	}
	if err := wakeUntilServed(context.Background(), base, cookie, 2*time.Minute, true); err != nil {
		return "", nil, err
	}
	wsDir, _ := filepath.Glob(filepath.Join(state, "workspaces", "bench-*"))
	if len(wsDir) != 1 {
		return "", nil, fmt.Errorf("workspace dir of bench not found")
	}
	folder := filepath.Join(wsDir[0], "home", "workspace")
	if err := writeOwned(filepath.Join(folder, "hello.py"), "print('hello')\n", folder); err != nil {
		return "", nil, err
	}
	pid := func() int {
		b, _ := os.ReadFile(filepath.Join(wsDir[0], "code-server.pid"))
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return n
	}
	return base, pid, nil
}

// startDirectCodeServer runs the same code-server on a loopback port, --auth none, with
// its own home and a folder with the same file.
func startDirectCodeServer(e env, p *procs, work string) (string, func() int, error) {
	home := filepath.Join(work, "direct")
	folder := filepath.Join(home, "workspace")
	if err := os.MkdirAll(folder, 0o755); err != nil {
		return "", nil, err
	}
	if err := os.WriteFile(filepath.Join(folder, "hello.py"), []byte("print('hello')\n"), 0o644); err != nil {
		return "", nil, err
	}
	port := freeport.Get()
	cmd := exec.Command(e.codeServer, "--bind-addr", fmt.Sprintf("127.0.0.1:%d", port), "--auth", "none",
		"--user-data-dir", filepath.Join(home, "data"), "--extensions-dir", filepath.Join(home, "ext"),
		"--disable-telemetry", "--disable-update-check", "--disable-workspace-trust", "--reconnection-grace-time", "30", folder)
	cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "XDG_DATA_HOME=" + filepath.Join(home, ".local/share")}
	if err := p.start("browser-direct-code-server", cmd); err != nil { // its own process group
		return "", nil, err
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := waitHTTP(base+"/healthz", time.Minute); err != nil {
		return "", nil, err
	}
	return base, func() int { return cmd.Process.Pid }, nil
}

// writeOwned writes a file owned like ref (the workspace's unix user).
func writeOwned(path, content, ref string) error {
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		return err
	}
	st, err := os.Stat(ref)
	if err != nil {
		return err
	}
	sys := st.Sys().(*syscall.Stat_t)
	return os.Chown(path, int(sys.Uid), int(sys.Gid))
}

// writeBrowserReport renders the user's-wait section with medians and codehub/direct
// ratios against issue #16's targets.
func writeBrowserReport(w func(string, ...any), b Browser) {
	w("\n## The user's wait: sign-in → workbench in Chromium (real code-server)\n\n")
	if b.Skipped != "" {
		w("Not measured in this run: %s.\n", b.Skipped)
		return
	}
	med := func(target, cache string, f func(BrowserTrial) float64) float64 {
		var v []float64
		for _, t := range b.Trials {
			if t.Target == target && t.Cache == cache && t.Err == "" {
				v = append(v, f(t))
			}
		}
		return median(v)
	}
	wb := func(t BrowserTrial) float64 { return t.WorkbenchS }
	ex := func(t BrowserTrial) float64 { return t.ExplorerS }
	cpu := func(t BrowserTrial) float64 { return t.CPUS }
	w("Headless Chromium (%s), a new profile per trial (cold browser cache), then a new tab of that same browser (warm: its HTTP cache and cookies); %d trials each, interleaved. codehub: sign-in click → `.monaco-workbench` visible → explorer rows shown (the workspace already running, so no wake); direct: navigation to the same code-server release started on its own (`--auth none`, loopback) → the same. Workspace CPU: utime+stime of code-server's process group from just before the load to 3 s after the explorer showed.\n\n", b.Chromium, browserTrials)
	w("| | codehub | direct | codehub ÷ direct | target |\n|---|---:|---:|---:|---|\n")
	for _, row := range []struct {
		name, cache string
		f           func(BrowserTrial) float64
		target      float64
	}{
		{"cold: workbench visible (s)", "cold", wb, 0.7}, {"cold: explorer rows (s)", "cold", ex, 0}, {"cold: workspace CPU (s)", "cold", cpu, 0},
		{"warm: workbench visible (s)", "warm", wb, 1.0}, {"warm: explorer rows (s)", "warm", ex, 0}, {"warm: workspace CPU (s)", "warm", cpu, 0},
	} {
		c, d := med("codehub", row.cache, row.f), med("direct", row.cache, row.f)
		ratio, target := "—", ""
		if d > 0 {
			ratio = fmt.Sprintf("%.2f×", c/d)
			if row.target > 0 {
				met := "not met"
				if c/d <= row.target {
					met = "met"
				}
				target = fmt.Sprintf("≤ %.1f× (%s)", row.target, met)
			}
		}
		w("| %s | %.2f | %.2f | %s | %s |\n", row.name, c, d, ratio, target)
	}
	if c := med("codehub", "cold", cpu); c > 0 {
		met := "not met"
		if c <= 1 {
			met = "met"
		}
		w("\nWorkspace CPU per cold load through codehub: %.2f s (target ≤ 1 s: %s).\n", c, met)
	}
	for _, t := range b.Trials {
		if t.Err != "" {
			w("\nFailed: %s %s trial %d: %s\n", t.Target, t.Cache, t.Trial, t.Err)
		}
	}
	for _, e := range b.Errors {
		w("\nNot measured: %s\n", e)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
